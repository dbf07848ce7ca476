package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/syncfs/syncfs/resolver"
)

type restoreOptions struct {
	access  storeAccess
	version int
	at      string
	to      string
	force   bool
}

func newRestoreCommand() *cobra.Command {
	var o restoreOptions
	c := &cobra.Command{
		Use:   "restore PATH [--version N | --at TIME] [--to OTHERPATH]",
		Short: "Write a version of a file back (over the file, as a new version; or to another path)",
		Long: "Write a version of the file at PATH back: --version N (from syncfs versions), or --at TIME\n" +
			"(RFC 3339, e.g. 2026-11-22T10:00:00Z: the version current then), or by default the newest\n" +
			"one that is not a deletion. Over the file it is a new version, so the restore can be undone;\n" +
			"a deleted file comes back under its name. --to writes it to OTHERPATH instead (refusing an\n" +
			"existing file unless --force), on the mount or anywhere else. PATH is on a mounted syncfs,\n" +
			"or with --store a path inside the store: the restore is then written to the store as a device\n" +
			"of its own, and mounts see it at their next pull.",
		Args: exactArgs(1, "PATH"),
		RunE: func(c *cobra.Command, args []string) error {
			sel, err := o.selector(c)
			if err != nil {
				return err
			}
			return runRestore(c.Context(), os.Stdout, o, sel, args[0])
		},
	}
	f := c.Flags()
	o.access.store.addFlags(f)
	o.access.passphrase.addFlags(f)
	f.IntVar(&o.version, "version", 0, "the version to restore (a number from syncfs versions)")
	f.StringVar(&o.at, "at", "", "restore the version current at this time (RFC 3339, e.g. 2026-11-22T10:00:00Z)")
	f.StringVar(&o.to, "to", "", "write the version to this path instead (a directory: under the file's name)")
	f.BoolVar(&o.force, "force", false, "with --to, replace an existing file")
	return c
}

// selector checks --version and --at.
func (o restoreOptions) selector(c *cobra.Command) (resolver.Selector, error) {
	var s resolver.Selector
	haveVersion := c.Flags().Changed("version")
	switch {
	case haveVersion && o.at != "":
		return s, usageError{errors.New("restore: give --version or --at, not both")}
	case haveVersion && o.version < 1:
		return s, usageError{fmt.Errorf("restore: --version %d: versions are numbered from 1", o.version)}
	case o.force && o.to == "":
		return s, usageError{errors.New("restore: --force only goes with --to (a restore over the file is always a new version)")}
	case o.at != "":
		t, err := time.Parse(time.RFC3339, o.at)
		if err != nil {
			return s, usageError{fmt.Errorf("restore: --at %q is not an RFC 3339 time such as 2026-11-22T10:00:00Z", o.at)}
		}
		s.At = t
	}
	s.Version = o.version
	return s, nil
}

func runRestore(ctx context.Context, w io.Writer, o restoreOptions, sel resolver.Selector, p string) error {
	uid, gid := callerOwner()
	req := versionRequest{Path: p, Version: sel.Version, At: sel.At, Force: o.force, UID: uid, GID: gid}
	if o.access.store.URL != "" {
		return restoreFromStore(ctx, w, o, req, p)
	}
	cl, req, err := mountTarget(req, p)
	if err != nil {
		return err
	}
	if o.to != "" {
		dst, err := restoreDestination(o.to, req.Name)
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		dir := filepath.Dir(dst)
		if tcl, err := dial(dir); err == nil && tcl.socket == cl.socket && syscall.Stat(dir, &st) == nil {
			// On the same mount: the new file names the version's
			// chunks, nothing is copied.
			req.ToDir, req.ToName, req.ToPath = st.Ino, filepath.Base(dst), o.to
		} else {
			n, size, err := cl.saveVersionContent(ctx, req, dst, o.force)
			if err != nil {
				return describeSaveErr(err, o.to)
			}
			fmt.Fprintf(w, "wrote version %d of %s (%s) to %s\n", n, p, humanBytes(size), dst)
			return nil
		}
	}
	var rep restoreReply
	if err := cl.callJSON(ctx, "/v1/restore", req, &rep); err != nil {
		return err
	}
	printRestored(w, p, o.to, rep)
	return nil
}

// restoreDestination is where --to puts the file: the path itself, or the
// file's name inside it if it is a directory. Its directory must exist.
func restoreDestination(to, name string) (string, error) {
	dst, err := filepath.Abs(to)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(dst); err == nil && fi.IsDir() {
		dst = filepath.Join(dst, name)
	}
	if fi, err := os.Stat(filepath.Dir(dst)); err != nil || !fi.IsDir() {
		return "", exitCodeError{exitError, fmt.Sprintf("--to %s: no such directory %s", to, filepath.Dir(dst))}
	}
	return dst, nil
}

func describeSaveErr(err error, to string) error {
	if errors.Is(err, os.ErrExist) {
		return exitCodeError{exitUsage, fmt.Sprintf("%s exists; give --force to replace it", to)}
	}
	return err
}

func printRestored(w io.Writer, p, to string, rep restoreReply) {
	v := rep.Version
	what := fmt.Sprintf("version %d of %s (%s, %s)", v.N, p, v.Time.Format(time.RFC3339), humanBytes(rep.Size))
	switch {
	case to != "":
		fmt.Fprintf(w, "restored %s to %s\n", what, to)
	case rep.Created:
		fmt.Fprintf(w, "restored %s as a new file\n", what)
	default:
		fmt.Fprintf(w, "restored %s as its newest version (syncfs versions shows it; restoring the one before undoes it)\n", what)
	}
}

// restoreFromStore restores through a view of the store: to a local path
// (--to), or into the store as the view's own device.
func restoreFromStore(ctx context.Context, w io.Writer, o restoreOptions, req versionRequest, p string) error {
	return withStoreView(ctx, o.access, func(core versionsCore) error {
		req, err := storeTarget(core.idx, req, p)
		if err != nil {
			return err
		}
		if o.to != "" {
			v, err := core.pick(ctx, req)
			if err != nil {
				return err
			}
			dst, err := restoreDestination(o.to, req.Name)
			if err != nil {
				return err
			}
			err = resolver.SaveFile(dst, os.FileMode(v.Version.Mode)&os.ModePerm, mtimeOf(v.Version.Mtime), o.force, func(w io.Writer) (int64, error) {
				return core.eng.WriteVersion(ctx, v.Version, w)
			})
			if errors.Is(err, resolver.ErrChunkGone) {
				return exitCodeError{exitError, fmt.Sprintf("version %d of %s was removed by prune", v.N, p)}
			}
			if err != nil {
				return describeSaveErr(err, o.to)
			}
			fmt.Fprintf(w, "wrote version %d of %s (%s) to %s\n", v.N, p, humanBytes(v.Size), dst)
			return nil
		}
		// A device of its own: registered (live) before it names old
		// chunks, so that a prune waits for it, and retired once its one
		// batch is in the store, so that no prune waits for it again.
		if err := core.eng.RegisterDevice(ctx); err != nil {
			return err
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := core.eng.Retire(rctx); err != nil {
				fmt.Fprintf(os.Stderr, "syncfs: could not retire device %s (retire it with `syncfs device forget`): %v\n", core.idx.Device(), err)
			}
		}()
		rep, err := core.restore(ctx, req)
		if err != nil {
			return err
		}
		if err := core.eng.Flush(ctx, nil); err != nil {
			return fmt.Errorf("write the restore to the store: %w", err)
		}

		printRestored(w, p, "", rep)
		fmt.Fprintf(w, "written to the store as device %s; mounts see it at their next pull\n", core.idx.Device())
		return nil
	})
}
