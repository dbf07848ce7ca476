package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/syncfs/syncfs/resolver"
)

// pruneRequest is the prune command's options as they travel to the daemon.
type pruneRequest struct {
	KeepLast   int           `json:"keep_last"`
	KeepDaily  int           `json:"keep_daily"`
	KeepWeekly int           `json:"keep_weekly"`
	KeepWithin time.Duration `json:"keep_within"` // negative: every version
	DryRun     bool          `json:"dry_run"`
	Wait       time.Duration `json:"wait"`
}

func newPruneCommand() *cobra.Command {
	var t storeAccess
	var req pruneRequest
	var within string
	var asJSON bool
	c := &cobra.Command{
		Use:   "prune [MOUNTPOINT] [--store STORE] [--keep-last N] [--keep-daily D] [--keep-weekly W] [--keep-versions-within 30d]",
		Short: "Remove old snapshots and file versions by policy, then the data nothing uses any more",
		Long: "prune applies the retention policy and collects garbage safely while other devices are mounted:\n" +
			"a pass lists what nothing references; a later pass (the same run, given --wait, once every\n" +
			"mounted device has seen the list) deletes what is still unreferenced. Devices that are\n" +
			"unmounted with nothing to upload need not be waited for; `syncfs device forget` retires a\n" +
			"device that is gone for good. Snapshots are kept if any --keep-* rule keeps them (none given:\n" +
			"all are kept); file versions superseded longer ago than --keep-versions-within go (not given:\n" +
			"every version is kept).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if req.KeepLast < 0 || req.KeepDaily < 0 || req.KeepWeekly < 0 || req.Wait < 0 {
				return usageError{errors.New("--keep-* and --wait must not be negative")}
			}
			req.KeepWithin = -1
			if within != "" {
				d, err := parseRetention(within)
				if err != nil {
					return usageError{fmt.Errorf("--keep-versions-within: %w", err)}
				}
				req.KeepWithin = d
			}
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			return runPrune(c.Context(), os.Stdout, t, path, req, asJSON)
		},
	}
	f := c.Flags()
	t.addFlags(f)
	f.IntVar(&req.KeepLast, "keep-last", 0, "keep the N newest snapshots")
	f.IntVar(&req.KeepDaily, "keep-daily", 0, "keep the newest snapshot of each of the last D days that have one")
	f.IntVar(&req.KeepWeekly, "keep-weekly", 0, "keep the newest snapshot of each of the last W weeks that have one")
	f.StringVar(&within, "keep-versions-within", "", "keep file versions superseded within this long (30d, 12h, 0 for none)")
	f.BoolVar(&req.DryRun, "dry-run", false, "show what would go; change nothing")
	f.DurationVar(&req.Wait, "wait", 10*time.Second, "after listing, wait this long for mounted devices to see the list, then delete")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

// parseRetention reads a duration that may also be given in days (30d) or
// weeks (2w).
func parseRetention(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.ParseFloat(n, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("%q: want a duration such as 30d, 2w or 12h", s)
			}
			return time.Duration(v * float64(unit)), nil
		}
	}
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a duration such as 30d, 2w or 12h", s)
	}
	return d, nil
}

func runPruneOp(ctx context.Context, repo *resolver.Repo, raw json.RawMessage, emit func(opLine)) (any, error) {
	var req pruneRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, err
	}
	return resolver.Prune(ctx, repo, resolver.PruneOptions{
		KeepLast: req.KeepLast, KeepDaily: req.KeepDaily, KeepWeekly: req.KeepWeekly,
		KeepWithin: req.KeepWithin, DryRun: req.DryRun, Wait: req.Wait,
		Progress: func(msg string) { emit(opLine{Msg: msg}) },
	})
}

func runPrune(ctx context.Context, w io.Writer, t storeAccess, path string, req pruneRequest, asJSON bool) error {
	last, err := t.run(ctx, path, "prune", req, func(l opLine) {
		if l.Msg != "" && !asJSON {
			fmt.Fprintln(os.Stderr, l.Msg)
		}
	})
	if err != nil {
		return err
	}
	if asJSON {
		fmt.Fprintln(w, string(last.Result))
		return nil
	}
	var rep resolver.PruneReport
	if err := json.Unmarshal(last.Result, &rep); err != nil {
		return fmt.Errorf("prune report: %w", err)
	}
	verb := "deleted"
	if req.DryRun {
		verb = "would delete"
	}
	fmt.Fprintf(w, "snapshots: %d kept, %d %s\n", rep.SnapshotsKept, len(rep.SnapshotsDeleted), verb)
	for _, id := range rep.SnapshotsDeleted {
		fmt.Fprintf(w, "  %s %s\n", verb, id)
	}
	if rep.Swept != 0 || (req.DryRun && rep.Deleted > 0) {
		fmt.Fprintf(w, "epoch %d: %s %d unreferenced objects (%s)\n", rep.Swept, verb, rep.Deleted, humanBytes(rep.DeletedBytes))
	}
	switch {
	case req.DryRun:
		fmt.Fprintf(w, "unreferenced now: %d objects (%s) would be listed for deletion\n", rep.Candidates, humanBytes(rep.CandidateBytes))
	case rep.Marked != 0 && rep.Swept != rep.Marked:
		fmt.Fprintf(w, "epoch %d: listed %d unreferenced objects (%s); a later prune deletes them once every mounted device has seen the list\n",
			rep.Marked, rep.Candidates, humanBytes(rep.CandidateBytes))
	case rep.Marked == 0 && len(rep.Waiting) == 0:
		fmt.Fprintln(w, "nothing unreferenced to list")
	}
	if len(rep.Waiting) > 0 {
		fmt.Fprintf(w, "waiting for devices: %s (mount them, or `syncfs device forget` one that is gone for good)\n", strings.Join(rep.Waiting, ", "))
	}
	if rep.StoredBytes > 0 {
		fmt.Fprintf(w, "store: %s of chunks and trees before this run, %s referenced\n", humanBytes(rep.StoredBytes), humanBytes(rep.ReferencedBytes))
	}
	return nil
}
