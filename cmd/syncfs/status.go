package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/syncfs/syncfs/index"
)

func newStatusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status MOUNTPOINT",
		Short: "Show the upload queue, residency counts and sync state",
		Args:  exactArgs(1, "MOUNTPOINT"),
		RunE: func(c *cobra.Command, args []string) error {
			return runStatus(c.Context(), os.Stdout, args[0])
		},
	}
}

func runStatus(ctx context.Context, w io.Writer, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	cl, err := dial(abs)
	if err != nil {
		return err
	}
	st, err := cl.status(ctx)
	if err != nil {
		return err
	}
	reach := "reachable"
	if !st.Engine.Reachable {
		reach = "UNREACHABLE"
	}
	fmt.Fprintf(w, "mount:     %s\nstore:     %s (%s)\ndevice:    %s\ncache:     %s (%s)\n",
		st.Mountpoint, st.Store, reach, st.Engine.Device, st.CacheDir, cacheUse(st))
	fmt.Fprintf(w, "queue:     %d changes waiting, %s of content to upload, %d sealed batches unsent\n",
		st.Index.Pending, humanBytes(st.Index.PendingData), st.Index.Unsent)
	fmt.Fprintf(w, "files:     ")
	for _, s := range []index.State{index.StateStaged, index.StateResident, index.StateAbsent, index.StateTombstoned} {
		fmt.Fprintf(w, "%s %d (%s)  ", s, st.Index.Files[s], humanBytes(st.Index.Bytes[s]))
	}
	fmt.Fprintf(w, "\npinned:    %d files, %d (%s) still to fetch\n", st.Index.Pinned, st.Index.PinFetch, humanBytes(st.Index.PinBytes))
	if st.Residency.PinError != "" {
		fmt.Fprintf(w, "ERROR fetching pinned files: %s\n", st.Residency.PinError)
	}
	fmt.Fprintf(w, "dirs:      %d\ntraffic:   %s up, %s down, %d batches sent\n", st.Index.Dirs, humanBytes(st.Engine.BytesUp), humanBytes(st.Engine.BytesDown), st.Engine.Batches)
	for dev, seq := range st.Index.Watermarks {
		fmt.Fprintf(w, "device %s: applied through batch %d\n", dev, seq)
	}
	for dev, e := range st.Index.PullErrors {
		fmt.Fprintf(w, "ERROR device %s: %s\n", dev, e)
	}
	if st.Engine.Stopped != "" {
		fmt.Fprintf(w, "ERROR uploading stopped: %s\n", st.Engine.Stopped)
	}
	if st.Engine.LastError != "" {
		fmt.Fprintf(w, "last error (%s): %s\n", st.Engine.LastErrAt.Format(time.RFC3339), st.Engine.LastError)
	}
	return nil
}

// cacheUse says how much of its budget the cache uses, and whether it is
// over (only unsynced, pinned or open content can keep it there).
func cacheUse(st statusReply) string {
	r := st.Residency
	if r.Budget <= 0 {
		return humanBytes(st.CacheBytes) + " used, no budget"
	}
	s := fmt.Sprintf("%s used of %s budget", humanBytes(st.CacheBytes), humanBytes(r.Budget))
	if r.Evicted > 0 {
		s += fmt.Sprintf(", %d files (%s) evicted", r.Evicted, humanBytes(r.EvictedBytes))
	}
	if r.OverBudget {
		s += "; OVER BUDGET: the rest is staged, pinned or open"
	}
	return s
}
