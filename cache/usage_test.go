package cache

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// walked returns what a walk of the cache directory finds, without
// touching the running total.
func walked(t *testing.T, c *Cache) int64 {
	t.Helper()
	var n int64
	err := c.Walk(t.Context(), func(files []File, _ []string) error {
		for _, f := range files {
			n += f.Bytes
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkUsage fails unless the running total is trusted and equals what is
// on disk.
func checkUsage(t *testing.T, c *Cache, when string) {
	t.Helper()
	got, known := c.RefreshUsage()
	if want := walked(t, c); got != want || !known {
		t.Fatalf("%s: running total %d (known %v), on disk %d", when, got, known, want)
	}
}

func writeKey(t *testing.T, c *Cache, k Key, data []byte) {
	t.Helper()
	f, err := c.Open(k, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestUsageRunningTotal(t *testing.T) {
	data := make([]byte, 300<<10)
	rand.New(rand.NewSource(2)).Read(data)
	c, err := New(t.TempDir(), &chunkFetcher{data: data})
	if err != nil {
		t.Fatal(err)
	}
	checkUsage(t, c, "new cache")
	// Written through a handle, as fs and the kernel write: seen by the
	// refresh.
	writeKey(t, c, Key{Ino: 1, Cver: 1}, data[:100<<10])
	checkUsage(t, c, "after a write")
	writeKey(t, c, Key{Ino: 2, Cver: 1}, data)
	checkUsage(t, c, "after a second write")
	// Fetched by the cache itself: counted as it is written, with the
	// present-ranges file.
	fk := Key{Ino: 3, Cver: 1}
	if _, err := c.Ensure(t.Context(), fk, int64(len(data)), 1000, 5000); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Used(); got != walked(t, c) {
		t.Fatalf("after a fetch, before any refresh: %d, on disk %d", got, walked(t, c))
	}
	if done, err := c.Ensure(t.Context(), fk, int64(len(data)), 0, int64(len(data))); err != nil || !done {
		t.Fatalf("ensure all: %v %v", done, err)
	}
	c.Forget(fk)
	checkUsage(t, c, "after the fetch completed")
	if err := c.Truncate(Key{Ino: 2, Cver: 1}, 10<<10); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Used(); got != walked(t, c) {
		t.Fatalf("after a truncate: %d, on disk %d", got, walked(t, c))
	}
	// A handle kept open and written again later.
	f, err := c.Open(Key{Ino: 4, Cver: 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := range 3 {
		if _, err := f.WriteAt(data[:64<<10], int64(i)<<20); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, c, "after writes through a handle kept open")
	}
	for _, k := range []Key{{1, 1}, {2, 1}, {3, 1}, {4, 1}} {
		if err := c.Remove(k); err != nil {
			t.Fatal(err)
		}
		checkUsage(t, c, "after a removal")
	}
	if got, _ := c.Used(); got != 0 {
		t.Fatalf("empty cache uses %d", got)
	}
}

func TestUsageKeptAcrossCleanClose(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeKey(t, c, Key{Ino: 1, Cver: 1}, make([]byte, 50<<10))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	want := walked(t, c)
	c2, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, known := c2.Used(); got != want || !known || c2.Unclean() {
		t.Fatalf("after a clean close: %d (known %v, unclean %v), on disk %d", got, known, c2.Unclean(), want)
	}
}

// TestUsageAfterCrash: a cache that was not closed (its daemon was
// killed) starts with the figure it last saved, not trusted, and a walk
// sets it right, including what changed on disk after that save.
func TestUsageAfterCrash(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeKey(t, c, Key{Ino: 1, Cver: 1}, make([]byte, 50<<10))
	c.RefreshUsage()
	if err := c.SaveUsage(); err != nil {
		t.Fatal(err)
	}
	saved, _ := c.Used()
	// After the last save, before the crash: one more file, and one
	// written through a handle that no refresh saw.
	writeKey(t, c, Key{Ino: 2, Cver: 1}, make([]byte, 80<<10))
	writeKey(t, c, Key{Ino: 1, Cver: 1}, make([]byte, 200<<10))
	// The crash: no Close. A new daemon opens the cache.
	c2, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, known := c2.Used()
	if known || !c2.Unclean() || got != saved {
		t.Fatalf("after a crash: %d (known %v, unclean %v), want the saved %d, not known", got, known, c2.Unclean(), saved)
	}
	// Another crash before the walk: still not trusted.
	c3, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, known := c3.Used(); known || !c3.Unclean() {
		t.Fatal("a second start after a crash trusts the figure")
	}
	var visited int
	n, err := c3.ReconcileUsage(t.Context(), func(files []File) error {
		visited += len(files)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := walked(t, c3); n != want || visited != 2 {
		t.Fatalf("walk: %d over %d files, on disk %d over 2", n, visited, want)
	}
	checkUsage(t, c3, "after the walk")
	if c3.Unclean() || c3.LastWalk().IsZero() {
		t.Fatal("the walk did not clear the crash")
	}
	// A clean close now makes the next start trust it.
	if err := c3.Close(); err != nil {
		t.Fatal(err)
	}
	c4, _ := New(dir, nil)
	if got, known := c4.Used(); !known || got != walked(t, c4) {
		t.Fatalf("after a walk and a clean close: %d (known %v), on disk %d", got, known, walked(t, c4))
	}
}

// TestUsageBeforeUsageFile: a cache directory from before the running
// total (files, no usage.json) is not trusted until a walk; an empty new
// one is.
func TestUsageBeforeUsageFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "5-1"), make([]byte, 20<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, known := c.Used(); known || !c.Unclean() {
		t.Fatal("a cache directory without a usage record is trusted")
	}
	if _, err := c.ReconcileUsage(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	checkUsage(t, c, "after the first walk")
	fresh, err := New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, known := fresh.Used(); got != 0 || !known {
		t.Fatalf("new cache: %d known %v", got, known)
	}
}

// TestWalkBatches: the walk hands on every name once, in batches no
// larger than walkBatch, and the orphan sweep's removals during a walk are
// not counted.
func TestWalkBatches(t *testing.T) {
	c, err := New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = walkBatch + 500
	for i := range n {
		writeKey(t, c, Key{Ino: uint64(i + 1), Cver: 1}, []byte("x"))
	}
	if err := os.WriteFile(filepath.Join(c.dir, "data", "junk"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	seen := map[Key]bool{}
	var strays []string
	batches := 0
	err = c.Walk(context.Background(), func(files []File, stray []string) error {
		batches++
		if len(files)+len(stray) > walkBatch {
			t.Errorf("batch of %d", len(files)+len(stray))
		}
		for _, f := range files {
			if seen[f.Key] {
				t.Errorf("%s twice", f.Key)
			}
			seen[f.Key] = true
		}
		strays = append(strays, stray...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n || batches < 2 || len(strays) != 1 || strays[0] != "junk" {
		t.Fatalf("walk saw %d keys in %d batches, strays %v", len(seen), batches, strays)
	}
	// Remove every other key during a walk, as the orphan sweep does.
	total, err := c.ReconcileUsage(t.Context(), func(files []File) error {
		for _, f := range files {
			if f.Key.Ino%2 == 0 {
				if err := c.Remove(f.Key); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := walked(t, c); total != want {
		t.Fatalf("walk that removed half: total %d, on disk %d", total, want)
	}
}
