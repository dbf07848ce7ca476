package cache

import (
	"math/rand"
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

// TestAccessLogMerge: saves merge new uses and removals into the saved
// log; what a save leaves is what a new Cache reads, and the uses of an
// old cache's access.json are taken over once.
func TestAccessLogMerge(t *testing.T) {
	dir := t.TempDir()
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	c, err := NewWithOptions(dir, nil, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	want := map[Key]int64{}
	rng := rand.New(rand.NewSource(3))
	for round := range 5 {
		for range 200 {
			k := Key{Ino: uint64(rng.Intn(300)), Cver: int64(rng.Intn(3))}
			if rng.Intn(4) == 0 {
				c.access.forget(k)
				delete(want, k)
				continue
			}
			now = now.Add(time.Second)
			c.Touch(k)
			want[k] = now.UnixNano()
		}
		if round%2 == 0 {
			if err := c.SaveAccess(); err != nil {
				t.Fatal(err)
			}
		}
		c2, err := New(dir, nil)
		check := func(name string, c *Cache) {
			for ino := range 300 {
				for cver := range 3 {
					k := Key{Ino: uint64(ino), Cver: int64(cver)}
					got, ok := c.LastAccess(k)
					w, wok := want[k]
					if ok != wok || (ok && got.UnixNano() != w) {
						t.Fatalf("round %d, %s: %s at %v (%v), want %d (%v)", round, name, k, got, ok, w, wok)
					}
				}
			}
		}
		check("live", c)
		if err != nil {
			t.Fatal(err)
		}
		if round%2 == 0 {
			check("reloaded", c2)
		}
	}
	// An access.json from before: its uses are read, and the first save
	// replaces it.
	old := t.TempDir()
	if err := os.WriteFile(filepath.Join(old, accessJSON), []byte(`{"5-1": 42, "7-2": 43, "bad": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c3, err := New(old, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tm, ok := c3.LastAccess(Key{Ino: 7, Cver: 2}); !ok || tm.UnixNano() != 43 {
		t.Fatalf("use from access.json: %v %v", tm, ok)
	}
	if err := c3.SaveAccess(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(old, accessJSON)); !os.IsNotExist(err) {
		t.Fatalf("access.json still there: %v", err)
	}
	c4, _ := New(old, nil)
	if tm, ok := c4.LastAccess(Key{Ino: 5, Cver: 1}); !ok || tm.UnixNano() != 42 {
		t.Fatalf("use from access.json after a save: %v %v", tm, ok)
	}
}
