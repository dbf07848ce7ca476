package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/syncfs/syncfs/resolver"
)

// errNotEvicted reports that some files were refused; each is named on
// stderr before it.
type errNotEvicted struct{ n int }

func (e errNotEvicted) Error() string {
	return fmt.Sprintf("%d files not evicted (see above)", e.n)
}

func newEvictCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "evict PATH...",
		Short: "Free the local copy of synced files (directories: everything below) now; they are fetched again when read",
		Long: "Free the local copy of synced files now. Files with changes not yet uploaded (staged),\n" +
			"pinned files and open files are refused and named; everything else is freed.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, req, err := resolveTargets(args)
			if err != nil {
				return err
			}
			resp, err := cl.post(c.Context(), "/v1/evict", req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var res resolver.EvictResult
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				return fmt.Errorf("read reply: %w", err)
			}
			fmt.Printf("evicted %d files (%s)", res.Evicted, humanBytes(res.Bytes))
			if res.Absent > 0 {
				fmt.Printf("; %d were not local", res.Absent)
			}
			fmt.Println()
			paths := map[uint64]string{}
			for _, t := range req.Targets {
				paths[t.Ino] = t.Path
			}
			for _, r := range res.Refused {
				fmt.Fprintf(os.Stderr, "not evicted: %s: %s\n", filepath.Join(paths[r.Root], r.Path), r.Reason)
			}
			if len(res.Refused) > 0 {
				return errNotEvicted{len(res.Refused)}
			}
			return nil
		},
	}
}

// handleEvict frees the targets' content now.
func (d *daemon) handleEvict(w http.ResponseWriter, r *http.Request) {
	var req targetsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, fmt.Sprintf("bad request: %v", err), http.StatusBadRequest)
		return
	}
	res, err := d.eng.Evict(r.Context(), req.inos())
	if err != nil {
		http.Error(w, fmt.Sprintf("evict: %v", err), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(res)
}
