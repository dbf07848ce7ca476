package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/syncfs/syncfs/resolver"
)

// Snapshot commands run the same operation (runSnapshotOp) either in the
// daemon of a mount, which streams snapshotLines back over the control
// socket, or here on a store given with --store; either way the lines are
// printed by one snapshotPrinter.

// snapshotRequest is one snapshot operation: the body of POST
// /v1/snapshot/{op}, or what a --store command runs itself.
type snapshotRequest struct {
	Op   string        `json:"op"`             // create, list, restore, verify, diff, delete
	Refs []string      `json:"refs,omitempty"` // snapshots named by ID, ID prefix or name
	Name string        `json:"name,omitempty"` // create: the new snapshot's name
	To   string        `json:"to,omitempty"`   // restore: absolute target directory
	Wait time.Duration `json:"wait,omitempty"` // create on a mount: flush for at most this long
}

// snapshotLine is one line of an operation's stream: progress, then its
// result; the last line has Done set.
type snapshotLine struct {
	Progress *snapshotProgress       `json:"progress,omitempty"`
	Warning  string                  `json:"warning,omitempty"`
	Created  *resolver.Created       `json:"created,omitempty"`
	List     []resolver.Snapshot     `json:"list,omitempty"`
	Changes  []resolver.Change       `json:"changes,omitempty"`
	Verify   *resolver.VerifyReport  `json:"verify,omitempty"`
	Restore  *resolver.RestoreReport `json:"restore,omitempty"`
	Deleted  []string                `json:"deleted,omitempty"`
	Error    string                  `json:"error,omitempty"`
	Done     bool                    `json:"done,omitempty"`
}

// snapshotProgress is how far a verify or restore is, in bytes.
type snapshotProgress struct {
	What  string `json:"what"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// snapshotCreator makes a snapshot of the tree the operation runs on.
type snapshotCreator func(ctx context.Context, req snapshotRequest, emit func(snapshotLine)) (*resolver.Created, error)

// runSnapshotOp runs req against repo, sending its result (and progress)
// through emit. Errors are returned, not emitted.
func runSnapshotOp(ctx context.Context, repo *resolver.Repo, create snapshotCreator, req snapshotRequest, emit func(snapshotLine)) error {
	resolve := func(i int) (resolver.Snapshot, error) {
		if i >= len(req.Refs) {
			return resolver.Snapshot{}, usageError{errors.New("snapshot: missing snapshot ID or name")}
		}
		return resolver.ResolveSnapshot(ctx, repo, req.Refs[i])
	}
	progress := throttledProgress(emit)
	switch req.Op {
	case "create":
		c, err := create(ctx, req, emit)
		if err != nil {
			return err
		}
		emit(snapshotLine{Created: c})
	case "list":
		l, err := resolver.ListSnapshots(ctx, repo)
		if err != nil && l == nil {
			return err
		}
		if err != nil {
			emit(snapshotLine{Warning: err.Error()})
		}
		emit(snapshotLine{List: l})
	case "restore":
		s, err := resolve(0)
		if err != nil {
			return err
		}
		rep, err := resolver.RestoreSnapshot(ctx, repo, s, req.To, resolver.RestoreOptions{Progress: progress("restoring")})
		if rep != nil {
			emit(snapshotLine{Restore: rep})
		}
		return err
	case "verify":
		s, err := resolve(0)
		if err != nil {
			return err
		}
		rep, err := resolver.VerifySnapshot(ctx, repo, s, resolver.VerifyOptions{Progress: progress("verifying")})
		if err != nil {
			return err
		}
		emit(snapshotLine{Verify: rep})
	case "diff":
		a, err := resolve(0)
		if err != nil {
			return err
		}
		b, err := resolve(1)
		if err != nil {
			return err
		}
		ch, err := resolver.DiffSnapshots(ctx, repo, a, b)
		if err != nil {
			return err
		}
		emit(snapshotLine{Changes: ch})
	case "delete":
		var ids []string
		for i := range req.Refs {
			s, err := resolve(i)
			if err != nil {
				return err
			}
			ids = append(ids, s.ID)
		}
		for _, id := range ids {
			if err := resolver.DeleteSnapshot(ctx, repo, id); err != nil {
				return err
			}
		}
		emit(snapshotLine{Deleted: ids})
	default:
		return usageError{fmt.Errorf("snapshot: unknown operation %q", req.Op)}
	}
	return nil
}

// throttledProgress returns progress callbacks that emit at most five
// lines a second, and always the last one.
func throttledProgress(emit func(snapshotLine)) func(what string) func(done, total int64) {
	return func(what string) func(done, total int64) {
		var last time.Time
		return func(done, total int64) {
			if done < total && time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			emit(snapshotLine{Progress: &snapshotProgress{What: what, Done: done, Total: total}})
		}
	}
}

type snapshotOptions struct {
	store      storeOptions
	passphrase passphraseOptions
	name       string
	to         string
	json       bool
	wait       time.Duration
}

func newSnapshotCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "snapshot",
		Short: "Create, list, restore, verify, compare and delete whole-tree snapshots",
		Long: "Each subcommand works on a mount (give the mount point, or a path inside it, first; the daemon\n" +
			"does the work) or directly on a store given with --store (no mount needed).\n" +
			"A snapshot is named by its ID, an unambiguous ID prefix (6 or more hex digits), or its name\n" +
			"(the newest snapshot of that name).",
	}
	sub := []struct {
		use, short string
		args       int // snapshot references after the mount point; -1: one or more
		op         string
	}{
		{"create MOUNTPOINT | create --store STORE", "Record the whole tree as a snapshot (--name to label it)", 0, "create"},
		{"list [MOUNTPOINT] [--store STORE]", "List snapshots with their sizes", 0, "list"},
		{"restore [MOUNTPOINT] SNAPSHOT --to DIR", "Write a snapshot's tree into an empty or new directory", 1, "restore"},
		{"verify [MOUNTPOINT] SNAPSHOT", "Read and authenticate every tree and chunk a snapshot uses", 1, "verify"},
		{"diff [MOUNTPOINT] SNAPSHOT SNAPSHOT", "List what changed from the first snapshot to the second", 2, "diff"},
		{"delete [MOUNTPOINT] SNAPSHOT...", "Delete snapshot records (their data goes at the next prune)", -1, "delete"},
	}
	for _, s := range sub {
		var o snapshotOptions
		cmd := &cobra.Command{
			Use:   s.use,
			Short: s.short,
			RunE: func(c *cobra.Command, args []string) error {
				return runSnapshotCommand(c.Context(), os.Stdout, o, s.op, s.args, args)
			},
		}
		f := cmd.Flags()
		o.store.addFlags(f)
		o.passphrase.addFlags(f)
		switch s.op {
		case "create":
			f.StringVar(&o.name, "name", "", "a label for the snapshot (need not be unique)")
			f.DurationVar(&o.wait, "wait", 5*time.Minute, "on a mount: how long to wait for pending uploads first (what is still unsynced then is left out, with a warning)")
		case "list":
			f.BoolVar(&o.json, "json", false, "print the snapshot records as JSON")
		case "restore":
			f.StringVar(&o.to, "to", "", "the directory to restore into: absent, or empty (required)")
		}
		c.AddCommand(cmd)
	}
	return c
}

// runSnapshotCommand checks the arguments, runs the operation on the mount
// or the store, and prints its result.
func runSnapshotCommand(ctx context.Context, w io.Writer, o snapshotOptions, op string, nrefs int, args []string) error {
	mount := ""
	if o.store.URL == "" {
		if len(args) == 0 {
			return usageError{fmt.Errorf("snapshot %s: give a mount point (or a path in it), or --store", op)}
		}
		mount, args = args[0], args[1:]
	}
	switch {
	case nrefs >= 0 && len(args) != nrefs:
		return usageError{fmt.Errorf("snapshot %s: want %d snapshot IDs or names, got %d", op, nrefs, len(args))}
	case nrefs < 0 && len(args) == 0:
		return usageError{fmt.Errorf("snapshot %s: give at least one snapshot ID or name", op)}
	case op == "restore" && o.to == "":
		return usageError{errors.New("snapshot restore: --to DIR is required")}
	case o.wait < 0:
		return usageError{errors.New("--wait must not be negative")}
	}
	req := snapshotRequest{Op: op, Refs: args, Name: o.name, Wait: o.wait}
	if o.to != "" {
		abs, err := filepath.Abs(o.to)
		if err != nil {
			return err
		}
		req.To = abs
	}
	p := newSnapshotPrinter(w, o.json)
	var err error
	if mount != "" {
		err = runSnapshotRemote(ctx, mount, req, p.line)
	} else {
		err = runSnapshotLocal(ctx, o, req, p.line)
	}
	p.finish()
	if err != nil {
		return err
	}
	return p.err
}

// runSnapshotRemote asks the daemon serving path to run req.
func runSnapshotRemote(ctx context.Context, path string, req snapshotRequest, emit func(snapshotLine)) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !fi.IsDir() {
		abs = filepath.Dir(abs)
	}
	cl, err := dial(abs)
	if err != nil {
		return err
	}
	resp, err := cl.post(ctx, "/v1/snapshot/"+req.Op, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var l snapshotLine
		if err := dec.Decode(&l); err != nil {
			return fmt.Errorf("read the daemon's reply: %w", err)
		}
		if l.Done {
			if l.Error != "" {
				return errors.New(l.Error)
			}
			return nil
		}
		emit(l)
	}
}

// runSnapshotLocal runs req on the store itself. Creating a snapshot
// rebuilds the store's tree from every journal first.
func runSnapshotLocal(ctx context.Context, o snapshotOptions, req snapshotRequest, emit func(snapshotLine)) error {
	repo, err := storeAccess{o.store, o.passphrase}.openRepo(ctx)
	if err != nil {
		return err
	}
	create := func(ctx context.Context, req snapshotRequest, emit func(snapshotLine)) (*resolver.Created, error) {
		v, err := resolver.OpenView(ctx, repo, resolver.ViewOptions{})
		if err != nil {
			return nil, err
		}
		defer v.Close()
		return resolver.CreateSnapshot(ctx, repo, v.Index, resolver.SnapshotOptions{Name: req.Name})
	}
	return runSnapshotOp(ctx, repo, create, req, emit)
}

// snapshotPrinter prints an operation's lines; err is set when the result
// itself is a failure (verify found damage).
type snapshotPrinter struct {
	w    io.Writer
	json bool
	tty  bool
	bar  *progressbar.ProgressBar
	err  error
}

func newSnapshotPrinter(w io.Writer, asJSON bool) *snapshotPrinter {
	return &snapshotPrinter{w: w, json: asJSON, tty: term.IsTerminal(int(os.Stderr.Fd()))}
}

func (p *snapshotPrinter) finish() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(os.Stderr)
		p.bar = nil
	}
}

func (p *snapshotPrinter) line(l snapshotLine) {
	if l.Progress != nil {
		// A progress bar only on a terminal: logs and pipes get the result.
		if p.tty {
			if p.bar == nil {
				p.bar = progressbar.NewOptions64(l.Progress.Total, progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionSetDescription(l.Progress.What), progressbar.OptionShowBytes(true))
			}
			p.bar.Set64(l.Progress.Done)
		}
		return
	}
	p.finish()
	if l.Warning != "" {
		fmt.Fprintln(os.Stderr, "warning:", l.Warning)
	}
	switch {
	case l.Created != nil:
		p.created(l.Created)
	case l.List != nil:
		p.list(l.List)
	case l.Changes != nil:
		for _, c := range l.Changes {
			if len(c.What) > 0 {
				fmt.Fprintf(p.w, "%s %s (%s)\n", c.Kind, c.Path, strings.Join(c.What, ", "))
			} else {
				fmt.Fprintf(p.w, "%s %s\n", c.Kind, c.Path)
			}
		}
	case l.Verify != nil:
		p.verify(l.Verify)
	case l.Restore != nil:
		r := l.Restore
		for _, w := range r.Warnings {
			fmt.Fprintln(os.Stderr, "warning:", w)
		}
		for _, e := range r.Errors {
			fmt.Fprintln(p.w, "ERROR", e)
		}
		fmt.Fprintf(p.w, "restored %d directories, %d files (%s), %d hard links, %d symlinks, %d special files\n",
			r.Dirs, r.Files, humanBytes(r.Bytes), r.Links, r.Symlinks, r.Specials)
	case l.Deleted != nil:
		for _, id := range l.Deleted {
			fmt.Fprintf(p.w, "deleted snapshot %s\n", id)
		}
		fmt.Fprintln(p.w, "its data is removed by the next syncfs prune, unless another snapshot uses it")
	}
}

func (p *snapshotPrinter) created(c *resolver.Created) {
	s := c.Snapshot
	fmt.Fprintf(p.w, "snapshot %s saved", s.ID)
	if s.Name != "" {
		fmt.Fprintf(p.w, " as %q", s.Name)
	}
	fmt.Fprintf(p.w, ": %d files, %s\n", s.Files, humanBytes(s.Bytes))
	if len(c.Stale) > 0 {
		fmt.Fprintf(os.Stderr, "warning: %d files with changes not yet uploaded are in the snapshot as last uploaded: %s\n", len(c.Stale), strings.Join(c.Stale, ", "))
	}
	if len(c.Skipped) > 0 {
		fmt.Fprintf(os.Stderr, "warning: %d files never uploaded are not in the snapshot: %s\n", len(c.Skipped), strings.Join(c.Skipped, ", "))
	}
}

func (p *snapshotPrinter) list(l []resolver.Snapshot) {
	if p.json {
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		enc.Encode(l)
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTIME\tDEVICE\tFILES\tSIZE")
	for _, s := range l {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Name, s.Time.Local().Format("2006-01-02 15:04:05"), s.Device, s.Files, humanBytes(s.Bytes))
	}
	tw.Flush()
}

func (p *snapshotPrinter) verify(r *resolver.VerifyReport) {
	for _, pr := range r.Problems {
		fmt.Fprintf(p.w, "%s %s: %s\n", strings.ToUpper(pr.Kind), pr.Object, pr.Detail)
		for _, path := range pr.Paths {
			fmt.Fprintf(p.w, "    used by %s\n", path)
		}
		if pr.More > 0 {
			fmt.Fprintf(p.w, "    and %d more paths\n", pr.More)
		}
	}
	fmt.Fprintf(p.w, "snapshot %s: checked %d trees and %d chunks (%s)", r.Snapshot, r.Trees, r.Chunks, humanBytes(r.Bytes))
	if len(r.Problems) == 0 {
		fmt.Fprintln(p.w, ": no problems")
		return
	}
	fmt.Fprintf(p.w, ": %d objects missing or damaged\n", len(r.Problems))
	p.err = exitCodeError{code: exitDamaged, msg: fmt.Sprintf("snapshot %s is damaged: %d objects missing or damaged", r.Snapshot, len(r.Problems))}
}
