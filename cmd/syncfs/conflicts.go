package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/resolver"
)

type conflictsOptions struct {
	access storeAccess
	json   bool
}

func newConflictsCommand() *cobra.Command {
	var o conflictsOptions
	c := &cobra.Command{
		Use:   "conflicts MOUNTPOINT | conflicts --store STORE [--json] | conflicts resolve PATH --keep mine|theirs|both",
		Short: "List the conflicts between devices: copies and losing versions, with both devices and times",
		Long: "List the conflicts not yet settled by hand: for each, its kind, the conflict copy (or,\n" +
			"under the newest policy, \"(in versions)\": the losing version lives only in the file's\n" +
			"versions), the original it came from, and the losing and winning device and time (UTC).\n" +
			"Kind content: two devices changed one file. Kind name: two files (or a file and a\n" +
			"directory) took one name; the one that lost it is the copy, under a conflict name, and\n" +
			"the original is the name it lost. The store's policy is set at init (--conflict) or with\n" +
			"syncfs config set conflict.\n" +
			"Given a mount, its daemon answers; given --store and no mount, the newest state that can\n" +
			"be built from the store (its checkpoint and journals) is listed, with paths from the\n" +
			"store's root.",
		Args: func(c *cobra.Command, args []string) error {
			if o.access.store.URL != "" {
				if len(args) != 0 {
					return usageError{fmt.Errorf("conflicts: give a mount point or --store, not both")}
				}
				return nil
			}
			return exactArgs(1, "MOUNTPOINT")(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			mnt := ""
			if len(args) == 1 {
				mnt = args[0]
			}
			return runConflicts(c.Context(), os.Stdout, o, mnt)
		},
	}
	o.access.addFlags(c.Flags())
	c.Flags().BoolVar(&o.json, "json", false, "print JSON, for scripts")
	c.AddCommand(newConflictsResolveCommand())
	return c
}

func newConflictsResolveCommand() *cobra.Command {
	var keep string
	c := &cobra.Command{
		Use:   "resolve PATH --keep mine|theirs|both",
		Short: "Settle one conflict by hand, as an ordinary new version that syncs to every device",
		Long: "Settle the conflict PATH takes part in: PATH is the conflict copy, or the original (the\n" +
			"file under the name) if it has just one conflict.\n" +
			"  --keep mine    the original name keeps the content it holds now; the conflict copy is\n" +
			"                 removed (under newest: a new version of the current content is made, so\n" +
			"                 the loser counts as seen).\n" +
			"  --keep theirs  the losing content becomes a new version of the original name; the copy\n" +
			"                 is removed.\n" +
			"  --keep both    both stay: the copy keeps its name and is no longer listed (under newest:\n" +
			"                 the loser comes back as a file named like a conflict copy).\n" +
			"For a name conflict (PATH is the file under the conflict name, or the one holding the\n" +
			"name it lost):\n" +
			"  --keep mine    what holds the name stays; the file under the conflict name is removed.\n" +
			"  --keep theirs  the file under the conflict name takes the name; the file holding it is\n" +
			"                 removed (a directory is never removed or replaced: move it yourself).\n" +
			"  --keep both    both stay: the conflict name becomes an ordinary name, no longer listed.\n" +
			"Nothing is lost: replaced or removed content stays in syncfs versions (for a name\n" +
			"conflict, in the versions of the name). Every device gets the result.",
		Args: exactArgs(1, "PATH"),
		RunE: func(c *cobra.Command, args []string) error {
			return runResolve(c.Context(), os.Stdout, args[0], keep)
		},
	}
	c.Flags().StringVar(&keep, "keep", "", "mine, theirs or both (required)")
	return c
}

// conflictsCall asks the daemon serving p for a conflicts call.
func conflictsCall(ctx context.Context, p, op string, req conflictsRequest, out any) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	cl, err := dialNearest(abs)
	if err != nil {
		return err
	}
	return cl.callJSON(ctx, "/v1/conflicts/"+op, req, out)
}

// jsonConflict is one conflict in conflicts --json.
type jsonConflict struct {
	Kind     string         `json:"kind"`           // content or name
	What     string         `json:"what,omitempty"` // name conflicts: what clashed
	Copy     string         `json:"copy,omitempty"` // absolute path; empty: kept in versions
	Original string         `json:"original,omitempty"`
	Loser    jsonSide       `json:"loser"`
	Winner   *jsonSide      `json:"winner,omitempty"`
	Kept     bool           `json:"kept_in_versions,omitempty"`
	Raw      index.Conflict `json:"ids"`
}

// jsonSide is a device and a time (RFC 3339, UTC).
type jsonSide struct {
	Device string `json:"device"`
	Time   string `json:"time"`
}

func sideOf(s index.ConflictSide) jsonSide {
	return jsonSide{Device: s.Device, Time: time.Unix(0, s.HLC).UTC().Format(time.RFC3339Nano)}
}

// listConflicts asks the daemon serving mnt for the conflicts, or, with
// --store, lists them from a view of the store.
func listConflicts(ctx context.Context, o conflictsOptions, mnt string) (conflictsReply, error) {
	var rep conflictsReply
	if o.access.store.URL == "" {
		return rep, conflictsCall(ctx, mnt, "list", conflictsRequest{}, &rep)
	}
	err := withView(ctx, o.access, func(v *resolver.View) error {
		var err error
		rep, err = conflictsCore{eng: v.Engine, idx: v.Index, mnt: "/"}.list(ctx)
		return err
	})
	return rep, err
}

func runConflicts(ctx context.Context, w io.Writer, o conflictsOptions, mnt string) error {
	rep, err := listConflicts(ctx, o, mnt)
	if err != nil {
		return err
	}
	asJSON := o.json
	at := func(p string) string {
		if p == "" {
			return "(gone)"
		}
		return filepath.Join(rep.Mountpoint, p)
	}
	if asJSON {
		out := struct {
			Policy    string         `json:"policy"`
			Conflicts []jsonConflict `json:"conflicts"`
		}{Policy: rep.Policy, Conflicts: []jsonConflict{}}
		for _, c := range rep.Conflicts {
			j := jsonConflict{Kind: c.Kind, What: c.What, Loser: sideOf(c.Loser), Kept: c.CopyIno == 0, Raw: c}
			if c.CopyPath != "" {
				j.Copy = at(c.CopyPath)
			}
			if c.OrigPath != "" {
				j.Original = at(c.OrigPath)
			}
			if c.Winner != nil {
				s := sideOf(*c.Winner)
				j.Winner = &s
			}
			out.Conflicts = append(out.Conflicts, j)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(rep.Conflicts) == 0 {
		fmt.Fprintf(w, "no conflicts (policy %s)\n", rep.Policy)
		return nil
	}
	side := func(s index.ConflictSide) string {
		return s.Device + ", " + time.Unix(0, s.HLC).UTC().Format("2006-01-02 15:04:05")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tCOPY\tORIGINAL\tLOSER (device, time)\tWINNER (device, time)")
	for _, c := range rep.Conflicts {
		cp, winner := "(in versions)", "-"
		if c.CopyPath != "" {
			cp = at(c.CopyPath)
		}
		if c.Winner != nil {
			winner = side(*c.Winner)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Kind, cp, at(c.OrigPath), side(c.Loser), winner)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	where := ""
	if o.access.store.URL != "" {
		where = " on a mount"
	}
	fmt.Fprintf(w, "%d conflict(s), policy %s; settle one%s with: syncfs conflicts resolve PATH --keep mine|theirs|both\n", len(rep.Conflicts), rep.Policy, where)
	return nil
}

func runResolve(ctx context.Context, w io.Writer, p, keep string) error {
	switch keep {
	case keepMine, keepTheirs, keepBoth:
	case "":
		return usageError{fmt.Errorf("conflicts resolve: --keep mine, theirs or both is required")}
	default:
		return usageError{fmt.Errorf("conflicts resolve: --keep %q: want mine, theirs or both", keep)}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(abs, &st); err != nil {
		if _, derr := dialNearest(filepath.Dir(abs)); derr != nil {
			return derr
		}
		return exitCodeError{exitError, fmt.Sprintf("%s: %v", p, err)}
	}
	at := filepath.Dir(abs) // the daemon that serves abs: a directory may be a mount's root
	if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		at = abs
	}
	var rep resolveReply
	if err := conflictsCall(ctx, at, "resolve", conflictsRequest{Ino: st.Ino, Path: p, Keep: keep}, &rep); err != nil {
		return err
	}
	fmt.Fprintln(w, rep.Message)
	if rep.Remove != "" {
		if err := os.Remove(rep.Remove); err != nil {
			return fmt.Errorf("remove the conflict copy: %w", err)
		}
	}
	if len(rep.Rename) == 2 {
		if err := os.Rename(rep.Rename[0], rep.Rename[1]); err != nil {
			return fmt.Errorf("give the name back: %w", err)
		}
	}
	return nil
}
