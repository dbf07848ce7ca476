package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore/local"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/resolver"
)

func TestScaleLayout(t *testing.T) {
	cases := []struct {
		files, perDir, fanout int
		levels                []int // directories per level, top first
	}{
		{1000000, 100, 100, []int{100, 10000}},
		{100000, 100, 100, []int{10, 1000}},
		{20000, 100, 100, []int{2, 200}},
		{50, 100, 100, []int{1}},
		{100, 100, 100, []int{1}},
		{250, 10, 4, []int{2, 7, 25}},
	}
	for _, c := range cases {
		l := newScaleLayout(c.files, c.perDir, c.fanout)
		lv := l.levels()
		var got []int
		for _, dirs := range lv {
			got = append(got, len(dirs))
		}
		if !equalInts(got, c.levels) {
			t.Errorf("%d files, %d a directory, fanout %d: levels of %v directories, want %v", c.files, c.perDir, c.fanout, got, c.levels)
			continue
		}
		for d, dirs := range lv {
			children := map[int]int{}
			for _, p := range dirs {
				if (d == 0) != (p < 0) || (d > 0 && p >= len(lv[d-1])) {
					t.Fatalf("%d files: level %d names parent %d", c.files, d, p)
				}
				children[p]++
			}
			for p, n := range children {
				if n > c.fanout {
					t.Errorf("%d files: directory %d of level %d has %d subdirectories, more than %d", c.files, p, d-1, n, c.fanout)
				}
			}
		}
		total := 0
		for i := range l.leaves {
			total += l.leafFiles(i)
		}
		if total != c.files {
			t.Errorf("%d files: the leaves hold %d", c.files, total)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// countTree counts the directories and files under dir.
func countTree(t *testing.T, dir string) (dirs, files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		if d.IsDir() {
			dirs++
		} else {
			files++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs, files
}

func TestLoadPlain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tree")
	l := newScaleLayout(250, 10, 4)
	if err := loadPlain(t.Context(), dir, l); err != nil {
		t.Fatal(err)
	}
	dirs, files := countTree(t, dir)
	if dirs != 2+7+25 || files != 250 {
		t.Errorf("tree of %d directories and %d files, want 34 and 250", dirs, files)
	}
	if _, err := os.Stat(filepath.Join(dir, "d1", "d2", "d0", "f9")); err != nil {
		t.Errorf("leaf 24's last file: %v", err)
	}
}

// walkIndex counts the directories and files of an index's tree.
func walkIndex(t *testing.T, idx *index.DB, ino uint64) (dirs, files int) {
	t.Helper()
	ents, err := idx.ReadDir(ino, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Attr.IsDir() {
			files++
			continue
		}
		d, f := walkIndex(t, idx, e.Attr.Ino)
		dirs, files = dirs+d+1, files+f
	}
	return dirs, files
}

func TestLoadDevice(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	storeDir := filepath.Join(t.TempDir(), "store")
	s, err := local.Create(storeDir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pass := []byte("pw")
	kdf := &crypto.KDFParams{Algorithm: crypto.AlgorithmArgon2id, MemoryKiB: 8 << 10, Time: 1, Threads: 1, Salt: bytes.Repeat([]byte{7}, 16)}
	if _, err := resolver.Init(ctx, s, pass, resolver.InitOptions{KDF: kdf}); err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(t.TempDir(), "cache")
	l := newScaleLayout(250, 10, 4)
	if err := loadDevice(ctx, storeDir, cacheDir, pass, l); err != nil {
		t.Fatal(err)
	}

	// The device's own index: the tree, everything sent, the store's ID.
	idx, err := index.Open(filepath.Join(cacheDir, "index.db"), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if dirs, files := walkIndex(t, idx, index.RootIno); dirs != 34 || files != 250 {
		t.Errorf("the device's index holds %d directories and %d files, want 34 and 250", dirs, files)
	}
	st, err := idx.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Unsent != 0 || st.Files[index.StateResident] != 250 {
		t.Errorf("after the load: %d changes pending, %d batches unsent, %d files Resident; want 0, 0, 250", st.Pending, st.Unsent, st.Files[index.StateResident])
	}
	repo, err := resolver.Open(ctx, s, pass)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := idx.Meta("store_id"); err != nil || string(id) != repo.Config.StoreID {
		t.Errorf("store_id in the index %q (%v), want %q", id, err, repo.Config.StoreID)
	}
	// Each file's cache file, as a create through the mount leaves it.
	names, err := os.ReadDir(filepath.Join(cacheDir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 250 {
		t.Errorf("%d cache files, want 250", len(names))
	}

	// Another device rebuilds the same tree from the store alone.
	v, err := resolver.OpenView(ctx, repo, resolver.ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if dirs, files := walkIndex(t, v.Index, index.RootIno); dirs != 34 || files != 250 {
		t.Errorf("the store's journal gives %d directories and %d files, want 34 and 250", dirs, files)
	}

	// A second load into the same cache directory is refused.
	if err := loadDevice(ctx, storeDir, cacheDir, pass, l); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "already") {
		t.Errorf("load into a used cache directory: %v, want a usage error", err)
	}
}
