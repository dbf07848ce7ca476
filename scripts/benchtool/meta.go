package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// treeFanout is the number of subdirectories per directory in the 3-level
// tree: 6*6*6 = 216 leaf directories keep a few dozen files per directory at
// the sizes the benchmark uses, which is what a source tree looks like.
const treeFanout = 6

// treeDepth is the number of directory levels above the files in the tree.
const treeDepth = 3

// metaLayout is the set of paths one metadata run works on: dirs in creation
// order (parents first) and files, all relative to the run's directory.
type metaLayout struct {
	dirs  []string
	files []string
}

// newMetaLayout lays out n files, flat in the top directory or spread round
// robin over the leaves of a treeDepth-level tree.
func newMetaLayout(n int, tree bool) metaLayout {
	var l metaLayout
	leaves := []string{"."}
	if tree {
		level := []string{"."}
		for range treeDepth {
			var next []string
			for _, parent := range level {
				for i := range treeFanout {
					d := filepath.Join(parent, fmt.Sprintf("d%d", i))
					l.dirs = append(l.dirs, d)
					next = append(next, d)
				}
			}
			level = next
		}
		leaves = level
	}
	for i := range n {
		l.files = append(l.files, filepath.Join(leaves[i%len(leaves)], fmt.Sprintf("f%06d", i)))
	}
	return l
}

// metaPhase is one timed phase's result.
type metaPhase struct {
	name string
	ops  int
	dur  time.Duration
}

// runMeta implements "benchtool meta".
func runMeta(args []string, w io.Writer) error {
	fl := flag.NewFlagSet("meta", flag.ContinueOnError)
	dir := fl.String("dir", "", "directory to work in (created; must not exist or be empty)")
	files := fl.Int("files", 5000, "number of empty files")
	tree := fl.Bool("tree", false, "spread the files over a 3-level directory tree")
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("meta flags: %w", errUsage)
	}
	if *dir == "" || *files <= 0 {
		return fmt.Errorf("meta needs -dir and a positive -files: %w", errUsage)
	}
	phases, err := metaRun(*dir, newMetaLayout(*files, *tree))
	if err != nil {
		return err
	}
	for _, p := range phases {
		secs := p.dur.Seconds()
		if secs <= 0 {
			// A clock too coarse to see the phase: report it as one tick.
			secs = 1e-9
		}
		fmt.Fprintf(w, "%s\t%.1f\n", p.name, float64(p.ops)/secs)
	}
	return nil
}

// metaRun times create, stat, readdir and delete of the layout under dir.
// Every file is created empty and closed at once, as touch does.
func metaRun(dir string, l metaLayout) ([]metaPhase, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("make work dir: %w", err)
	}
	var phases []metaPhase
	timed := func(name string, ops int, fn func() error) error {
		start := time.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		phases = append(phases, metaPhase{name: name, ops: ops, dur: time.Since(start)})
		return nil
	}
	all := len(l.dirs) + len(l.files)
	err := timed("create", all, func() error {
		for _, d := range l.dirs {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		for _, f := range l.files {
			fh, err := os.OpenFile(filepath.Join(dir, f), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			if err := fh.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = timed("stat", all, func() error {
		for _, p := range append(append([]string(nil), l.dirs...), l.files...) {
			if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = timed("readdir", all, func() error {
		got := 0
		for _, d := range append([]string{"."}, l.dirs...) {
			n, err := readNames(filepath.Join(dir, d))
			if err != nil {
				return err
			}
			got += n
		}
		if got != all {
			return fmt.Errorf("listed %d entries, want %d", got, all)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = timed("delete", all, func() error {
		for _, f := range l.files {
			if err := os.Remove(filepath.Join(dir, f)); err != nil {
				return err
			}
		}
		// Children before parents: the reverse of creation order.
		for i := len(l.dirs) - 1; i >= 0; i-- {
			if err := os.Remove(filepath.Join(dir, l.dirs[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return phases, nil
}

// readNames lists a directory's names without stat'ing them, as ls -f does,
// and returns how many there are.
func readNames(dir string) (int, error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", dir, err)
	}
	return len(names), nil
}
