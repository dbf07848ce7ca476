package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/resolver"
)

// storeOfMount is --store given without a value: the mount's own store.
const storeOfMount = "mount"

type fsckOptions struct {
	cacheDir string
	store    storeOptions
	repair   bool
}

// errFsckProblems reports that fsck found problems it did not repair.
type errFsckProblems struct{ n int }

func (e errFsckProblems) Error() string { return fmt.Sprintf("fsck found %d problems", e.n) }

func newFsckCommand() *cobra.Command {
	var o fsckOptions
	c := &cobra.Command{
		Use:   "fsck MOUNTPOINT | fsck --cache-dir DIR",
		Short: "Check the index and the cache (and with --store, that the store has every chunk)",
		Long: "Check a mount through its daemon, or with --cache-dir a cache directory no daemon uses.\n" +
			"It checks the index's integrity, that every staged or resident file has its cache file,\n" +
			"and for cache files the index does not know (removed with --repair). With --store it also\n" +
			"checks that the store holds every chunk of the synced content: on a mount give --store\n" +
			"alone; offline give --store=URL.",
		RunE: func(c *cobra.Command, args []string) error {
			switch {
			case o.cacheDir != "" && len(args) > 0:
				return usageError{errors.New("fsck: give a MOUNTPOINT or --cache-dir, not both (offline, the store is --store=URL)")}
			case o.cacheDir == "" && len(args) != 1:
				return usageError{errors.New("fsck: want MOUNTPOINT, or --cache-dir DIR")}
			case o.cacheDir != "":
				return runFsckOffline(c.Context(), os.Stdout, o)
			}
			return runFsckMount(c.Context(), os.Stdout, o, args[0])
		},
	}
	f := c.Flags()
	o.store.addFlags(f)
	f.Lookup("store").NoOptDefVal = storeOfMount
	f.Lookup("store").Usage = "also check the store for every chunk: alone on a mount, --store=URL with --cache-dir"
	f.StringVar(&o.cacheDir, "cache-dir", "", "check this cache directory offline (no daemon may be using it)")
	f.BoolVar(&o.repair, "repair", false, "remove cache files the index does not know")
	return c
}

func runFsckMount(ctx context.Context, w io.Writer, o fsckOptions, mnt string) error {
	if o.store.URL != "" && o.store.URL != storeOfMount {
		return usageError{errors.New("fsck: on a mount, give --store alone: the mount's own store is checked")}
	}
	abs, err := filepath.Abs(mnt)
	if err != nil {
		return err
	}
	cl, err := dial(abs)
	if err != nil {
		return err
	}
	q := fmt.Sprintf("/v1/fsck?repair=%t&store=%t", o.repair, o.store.URL != "")
	resp, err := cl.do(ctx, http.MethodPost, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var rep resolver.CheckReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	return printFsck(w, rep)
}

func runFsckOffline(ctx context.Context, w io.Writer, o fsckOptions) error {
	if o.store.URL == storeOfMount {
		return usageError{errors.New("fsck --cache-dir: give the store as --store=URL")}
	}
	dbPath := filepath.Join(o.cacheDir, "index.db")
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("%s is not a syncfs cache directory: %w", o.cacheDir, err)
	}
	lock, err := lockDir(o.cacheDir)
	if errors.Is(err, errCacheInUse) {
		return fmt.Errorf("%w (run syncfs fsck on its mount point instead)", err)
	}
	if err != nil {
		return err
	}
	defer lock.Close()
	idx, err := index.Open(dbPath, index.Options{})
	if err != nil {
		return err
	}
	defer idx.Close()
	c, err := cache.New(o.cacheDir, nil)
	if err != nil {
		return err
	}
	co := resolver.CheckOptions{Repair: o.repair, Progress: func(s string) { fmt.Fprintf(os.Stderr, "checking %s\n", s) }}
	if o.store.URL != "" {
		s, _, err := openStore(ctx, o.store, false)
		if err != nil {
			return err
		}
		co.Store = s
	}
	rep, err := resolver.Check(ctx, idx, c, co)
	if err != nil {
		return err
	}
	return printFsck(w, rep)
}

// printFsck prints a report and fails if problems remain.
func printFsck(w io.Writer, rep resolver.CheckReport) error {
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
	for _, r := range rep.Repaired {
		fmt.Fprintln(w, "repaired:", r)
	}
	fmt.Fprintf(w, "checked %d files, %d cache files", rep.Files, rep.Cached)
	if rep.Chunks > 0 {
		fmt.Fprintf(w, ", %d chunks in the store", rep.Chunks)
	}
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, ": no problems")
		return nil
	}
	fmt.Fprintf(w, ": %d problems, %d repaired\n", len(rep.Problems), len(rep.Repaired))
	if left := len(rep.Problems) - len(rep.Repaired); left > 0 {
		return errFsckProblems{left}
	}
	return nil
}

// handleFsck checks the mount's index and cache (and store, if asked).
func (d *daemon) handleFsck(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	co := resolver.CheckOptions{Repair: q.Get("repair") == "true"}
	if q.Get("store") == "true" {
		co.Store = d.repo.Store
	}
	rep, err := resolver.Check(r.Context(), d.idx, d.cache, co)
	if err != nil {
		http.Error(w, fmt.Sprintf("fsck: %v", err), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(rep)
}
