package cache

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestAccessLog(t *testing.T) {
	dir := t.TempDir()
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c, err := NewWithOptions(dir, nil, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	a, b := Key{Ino: 2, Cver: 0}, Key{Ino: 3, Cver: 4}

	t.Run("open_and_ensure_touch", func(t *testing.T) {
		f, err := c.Open(a, true)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		clk.t = clk.t.Add(time.Minute)
		if _, err := c.Ensure(t.Context(), b, 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		ta, _ := c.LastAccess(a)
		tb, _ := c.LastAccess(b)
		if !ta.Before(tb) || !tb.Equal(clk.t) {
			t.Fatalf("access times a %v b %v", ta, tb)
		}
	})

	t.Run("saved_and_reloaded", func(t *testing.T) {
		if err := c.SaveAccess(); err != nil {
			t.Fatal(err)
		}
		c2, err := New(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		tb, ok := c2.LastAccess(b)
		if !ok || !tb.Equal(clk.t) {
			t.Fatalf("reloaded access of b: %v %v", tb, ok)
		}
	})

	t.Run("remove_forgets", func(t *testing.T) {
		if err := c.Remove(a); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.LastAccess(a); ok {
			t.Fatal("removed key still has an access time")
		}
	})
}

func TestScan(t *testing.T) {
	dir := t.TempDir()
	c, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Ino: 9, Cver: 1}
	if err := os.WriteFile(c.Path(k), make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Truncate(Key{Ino: 10}, 1<<20); err != nil { // sparse: no blocks
		t.Fatal(err)
	}
	os.WriteFile(c.presentPath(Key{Ino: 11, Cver: 2}), []byte("[[0,5]]"), 0o600)
	os.WriteFile(filepath.Join(dir, "data", "junk"), nil, 0o600)
	files, stray, err := c.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stray, []string{"junk"}) {
		t.Fatalf("stray %q", stray)
	}
	got := map[Key]File{}
	for _, f := range files {
		got[f.Key] = f
	}
	if f := got[k]; !f.HasData || f.Size != 8192 || f.Bytes < 8192 || f.Used.IsZero() {
		t.Fatalf("file %v: %+v", k, f)
	}
	if f := got[Key{Ino: 10}]; !f.HasData || f.Size != 1<<20 || f.Bytes >= 1<<20 {
		t.Fatalf("sparse file: %+v", f)
	}
	if f, ok := got[Key{Ino: 11, Cver: 2}]; !ok || f.HasData {
		t.Fatalf("ranges-only key: %+v %v", f, ok)
	}
	if err := c.RemoveStray("junk"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveStray("../x"); err == nil {
		t.Fatal("RemoveStray accepted a path")
	}
	if _, stray, _ := c.Scan(); len(stray) != 0 {
		t.Fatalf("stray after removal: %q", stray)
	}
}
