package main

import (
	"context"
	"encoding/json"
	"errors"
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

type versionsOptions struct {
	access  storeAccess
	deleted bool
	json    bool
}

func newVersionsCommand() *cobra.Command {
	var o versionsOptions
	c := &cobra.Command{
		Use:   "versions PATH | versions --deleted DIR",
		Short: "List the synced versions of a file (or a directory's deleted files)",
		Long: "List every synced version of the file at PATH: its number, when and on which device it was\n" +
			"made, its size, and a note (current, deleted, conflict (lost), earlier file: a file that had\n" +
			"the name before, deleted or replaced by a save). Restore one with syncfs restore.\n" +
			"PATH is on a mounted syncfs (the daemon answers), or with --store a path inside the store\n" +
			"(no mount needed).",
		Args: exactArgs(1, "PATH"),
		RunE: func(c *cobra.Command, args []string) error {
			return runVersions(c.Context(), os.Stdout, o, args[0])
		},
	}
	f := c.Flags()
	o.access.store.addFlags(f)
	o.access.passphrase.addFlags(f)
	f.BoolVar(&o.deleted, "deleted", false, "list the deleted files of the directory PATH")
	f.BoolVar(&o.json, "json", false, "print JSON, for scripts")
	return c
}

func runVersions(ctx context.Context, w io.Writer, o versionsOptions, p string) error {
	var rep versionsReply
	req := versionRequest{Path: p, Deleted: o.deleted}
	if o.access.store.URL != "" {
		err := withStoreView(ctx, o.access, func(core versionsCore) error {
			var err error
			if req, err = storeTarget(core.idx, req, p); err != nil {
				return err
			}
			rep, err = core.list(ctx, req)
			return err
		})
		if err != nil {
			return err
		}
	} else {
		cl, req, err := mountTarget(req, p)
		if err != nil {
			return err
		}
		if err := cl.callJSON(ctx, "/v1/versions", req, &rep); err != nil {
			return err
		}
	}
	if o.deleted {
		return printDeleted(w, rep.Deleted, o.json)
	}
	return printHistory(w, p, *rep.History, o.json)
}

// jsonVersion is one version in versions --json.
type jsonVersion struct {
	Version int    `json:"version"`
	Time    string `json:"time"` // RFC 3339 with nanoseconds, UTC
	Device  string `json:"device"`
	Size    int64  `json:"size"`
	Note    string `json:"note"`
	Deleted bool   `json:"deleted"`
	FileID  string `json:"file_id"`
}

func printHistory(w io.Writer, p string, h resolver.PathHistory, asJSON bool) error {
	if asJSON {
		out := struct {
			Path     string        `json:"path"`
			Unsynced bool          `json:"unsynced"`
			Versions []jsonVersion `json:"versions"`
		}{Path: p, Unsynced: h.Unsynced, Versions: []jsonVersion{}}
		for _, v := range h.Versions {
			out.Versions = append(out.Versions, jsonVersion{Version: v.N, Time: v.Time.Format(time.RFC3339Nano), Device: v.Device,
				Size: v.Size, Note: v.Note, Deleted: v.Version.Deleted, FileID: v.Version.FileID})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tTIME\tDEVICE\tSIZE\tNOTE")
	for _, v := range h.Versions {
		size := humanBytes(v.Size)
		if v.Version.Deleted {
			size = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.N, v.Time.Format(time.RFC3339), v.Device, size, v.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(h.Versions) == 0 {
		fmt.Fprintf(w, "%s has no synced version yet\n", p)
	}
	if h.Unsynced {
		fmt.Fprintf(w, "%s has changes not yet uploaded: they become a version once synced\n", p)
	}
	return nil
}

func printDeleted(w io.Writer, ds []resolver.DeletedEntry, asJSON bool) error {
	if asJSON {
		type entry struct {
			Name    string `json:"name"`
			Deleted string `json:"deleted"`
			Device  string `json:"device"`
			Size    int64  `json:"size"`
		}
		out := []entry{}
		for _, d := range ds {
			out = append(out, entry{d.Name, d.Deleted.Format(time.RFC3339Nano), d.Device, d.Size})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDELETED\tDEVICE\tSIZE")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, d.Deleted.Format(time.RFC3339), d.Device, humanBytes(d.Size))
	}
	return tw.Flush()
}

// mountTarget finds the daemon serving path p and names p for it: the
// inode of its directory and its name (p itself need not exist: it may
// be deleted). With req.Deleted, p is the directory.
func mountTarget(req versionRequest, p string) (*controlClient, versionRequest, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, req, err
	}
	var st syscall.Stat_t
	exists := syscall.Lstat(abs, &st) == nil
	isDir := exists && st.Mode&syscall.S_IFMT == syscall.S_IFDIR
	dir := abs
	switch {
	case req.Deleted && !isDir:
		if cl, err := dialNearest(abs); err != nil {
			return cl, req, err
		}
		return nil, req, exitCodeError{exitUsage, p + " is not a directory (--deleted lists a directory's deleted files)"}
	case req.Deleted:
	case isDir:
		if cl, err := dialNearest(abs); err != nil {
			return cl, req, err
		}
		return nil, req, exitCodeError{exitUsage, p + " is a directory: give a file, or --deleted DIR to list the deleted files in it"}
	default:
		dir, req.Name = filepath.Dir(abs), filepath.Base(abs)
		if err := syscall.Stat(dir, &st); err != nil {
			if _, derr := dialNearest(dir); derr != nil {
				return nil, req, derr
			}
			return nil, req, exitCodeError{exitError, fmt.Sprintf("%s: no such directory", filepath.Dir(p))}
		}
	}
	if err := syscall.Stat(dir, &st); err != nil {
		return nil, req, fmt.Errorf("%s: %w", p, err)
	}
	cl, err := dial(dir)
	if err != nil {
		return nil, req, notOnMount(p, err)
	}
	req.Dir = st.Ino
	return cl, req, nil
}

// dialNearest finds the daemon of the nearest existing directory at or
// above p, to tell "not on a mount" from other mistakes.
func dialNearest(p string) (*controlClient, error) {
	for d := p; ; d = filepath.Dir(d) {
		var st syscall.Stat_t
		if syscall.Stat(d, &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			cl, err := dial(d)
			if err != nil {
				return nil, notOnMount(p, err)
			}
			return cl, nil
		}
		if d == filepath.Dir(d) {
			return nil, notOnMount(p, errNotMounted)
		}
	}
}

func notOnMount(p string, err error) error {
	if errors.Is(err, errNotMounted) {
		return fmt.Errorf("%s is not on a syncfs mount (to work on a store directly, give --store): %w", p, errNotMounted)
	}
	return err
}

// storeTarget names the store path p (relative to the store's root) in a
// view's index, like mountTarget does on a mount.
func storeTarget(idx *index.DB, req versionRequest, p string) (versionRequest, error) {
	dir, name, err := resolver.ResolvePath(idx, p)
	if err != nil {
		return req, exitCodeError{exitError, fmt.Sprintf("%s: no such directory in the store", p)}
	}
	if req.Deleted {
		if name != "" {
			if dir, err = idx.Lookup(dir.Ino, name); err != nil || !dir.IsDir() {
				return req, exitCodeError{exitUsage, p + " is not a directory in the store (--deleted lists a directory's deleted files)"}
			}
		}
		req.Dir = dir.Ino
		return req, nil
	}
	if name == "" {
		return req, exitCodeError{exitUsage, p + " is the store's root directory: give a file, or --deleted DIR"}
	}
	req.Dir, req.Name = dir.Ino, name
	return req, nil
}

// withStoreView runs f on a view of the store given with --store (see
// withView).
func withStoreView(ctx context.Context, a storeAccess, f func(versionsCore) error) error {
	return withView(ctx, a, func(v *resolver.View) error { return f(versionsCore{v.Engine, v.Index}) })
}
