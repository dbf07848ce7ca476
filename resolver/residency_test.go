package resolver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// tickClock returns a later time at every call, so that the order of uses
// is the order of calls.
type tickClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tickClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// newDeviceWith is newDevice with engine options and a ticking cache clock.
func newDeviceWith(t *testing.T, s blobstore.Store, name string, o Options) *device {
	t.Helper()
	repo, err := Open(testCtx(t), s, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	idx, err := index.Open(filepath.Join(dir, "index.db"), index.Options{Device: name, GroupWindow: index.DefaultGroupWindow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	clk := &tickClock{t: time.Unix(1e9, 0)}
	c, err := cache.NewWithOptions(filepath.Join(dir, "cache"), nil, cache.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	e := New(repo, idx, c, o)
	if err := e.RegisterDevice(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return &device{idx: idx, cache: c, eng: e}
}

func initStore(t *testing.T) blobstore.Store {
	t.Helper()
	s := newStore(t)
	if _, err := Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()}); err != nil {
		t.Fatal(err)
	}
	return s
}

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func (d *device) attr(t *testing.T, name string) index.Attr {
	t.Helper()
	a, err := d.idx.Lookup(index.RootIno, name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	return a
}

// use opens name's cache file as fs does on open(2): a use for LRU.
func (d *device) use(t *testing.T, name string) {
	t.Helper()
	a := d.attr(t, name)
	f, err := d.cache.Open(cache.Key{Ino: a.Ino, Cver: a.Cver}, false)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestBudgetEvictsLeastRecentlyUsed(t *testing.T) {
	const size = 64 << 10
	s := initStore(t)
	// Room for four files and a bit: of seven, three must go.
	d := newDeviceWith(t, s, "aaaa", Options{CacheBudget: 4*size + size/2})
	names := []string{"f0", "f1", "f2", "f3", "f4", "f5"}
	for i, n := range names {
		d.writeFile(t, n, randBytes(int64(i), size))
	}
	if err := d.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	// Written after the flush: Staged, and used before everything else.
	staged := randBytes(99, size)
	d.writeFile(t, "staged", staged)
	d.use(t, "staged")
	for _, n := range names {
		d.use(t, n)
	}
	d.use(t, "f0")
	d.use(t, "f2")
	if _, err := d.eng.Pin([]uint64{d.attr(t, "f4").Ino}, true); err != nil {
		t.Fatal(err)
	}
	// Least recently used first: staged (never), f1, f3, f4 (pinned), f5, f0, f2.
	rep, err := d.eng.EnforceBudget(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Evicted != 3 || rep.After > rep.Budget {
		t.Fatalf("evictor round: %+v", rep)
	}
	want := map[string]index.State{
		"staged": index.StateStaged,
		"f1":     index.StateAbsent, "f3": index.StateAbsent, "f5": index.StateAbsent,
		"f0": index.StateResident, "f2": index.StateResident, "f4": index.StateResident,
	}
	for n, st := range want {
		t.Run(n, func(t *testing.T) {
			a := d.attr(t, n)
			if a.State != st {
				t.Fatalf("state %s, want %s", a.State, st)
			}
			_, err := os.Stat(d.cache.Path(cache.Key{Ino: a.Ino, Cver: a.Cver}))
			if (st == index.StateAbsent) != errors.Is(err, os.ErrNotExist) {
				t.Fatalf("cache file of a %s file: %v", st, err)
			}
		})
	}
	t.Run("evicted_content_comes_back", func(t *testing.T) {
		if got := d.readFile(t, "f1"); !bytes.Equal(got, randBytes(1, size)) {
			t.Fatal("f1 differs after eviction and refetch")
		}
	})
	t.Run("status", func(t *testing.T) {
		r := d.eng.Residency()
		if r.Budget != 4*size+size/2 || r.Evicted != 3 || r.OverBudget {
			t.Fatalf("residency %+v", r)
		}
	})
}

func TestBudgetNeverEvictsStaged(t *testing.T) {
	s := initStore(t)
	d := newDeviceWith(t, s, "aaaa", Options{CacheBudget: 16 << 10})
	data := randBytes(5, 256<<10)
	d.writeFile(t, "big", data)
	rep, err := d.eng.EnforceBudget(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Evicted != 0 || rep.After <= rep.Budget {
		t.Fatalf("round: %+v", rep)
	}
	if r := d.eng.Residency(); !r.OverBudget {
		t.Fatalf("status does not say over budget: %+v", r)
	}
	a := d.attr(t, "big")
	if a.State != index.StateStaged {
		t.Fatalf("state %s", a.State)
	}
	got, err := os.ReadFile(d.cache.Path(cache.Key{Ino: a.Ino, Cver: a.Cver}))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("staged content lost: %v", err)
	}
	// Once uploaded it may go.
	if err := d.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := d.eng.EnforceBudget(testCtx(t)); err != nil || rep.Evicted != 1 {
		t.Fatalf("after upload: %+v %v", rep, err)
	}
	if r := d.eng.Residency(); r.OverBudget {
		t.Fatalf("still over budget: %+v", r)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPinFetchesTreeAndEvictRefuses(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "aaaa")
	p, err := a.idx.Create(index.RootIno, "p", index.NewNode{Mode: syscall.S_IFDIR | 0o755})
	if err != nil {
		t.Fatal(err)
	}
	write := func(dir uint64, name string, data []byte) {
		f, err := a.idx.Create(dir, name, index.NewNode{Mode: syscall.S_IFREG | 0o644})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(a.cache.Path(cache.Key{Ino: f.Ino, Cver: f.Cver}), data, 0o600); err != nil {
			t.Fatal(err)
		}
		a.idx.NoteWrite(f.Ino, int64(len(data)), time.Now().UnixNano())
		if err := a.idx.Flush(f.Ino); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		write(p.Ino, fmt.Sprintf("f%d", i), randBytes(int64(i), 100<<10+i))
	}
	write(index.RootIno, "outside", []byte("not pinned"))
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}

	b := newDeviceWith(t, s, "bbbb", Options{EvictInterval: 50 * time.Millisecond, PollInterval: time.Hour})
	if err := b.eng.Sync(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(testCtx(t))
	done := make(chan struct{})
	go func() { b.eng.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	bp := b.attr(t, "p")
	res, err := b.eng.Pin([]uint64{bp.Ino}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 3 || res.FetchFiles != 3 {
		t.Fatalf("pin: %+v", res)
	}
	backlogEmpty := func() bool {
		n, _, _, err := b.eng.PinBacklog(testCtx(t), []uint64{bp.Ino})
		return err == nil && n == 0
	}
	waitFor(t, "the pinned tree to be fetched", backlogEmpty)
	for i := range 3 {
		f, err := b.idx.Lookup(bp.Ino, fmt.Sprintf("f%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if f.State != index.StateResident || !f.Pinned {
			t.Fatalf("f%d: %s pinned=%v", i, f.State, f.Pinned)
		}
		got, _ := os.ReadFile(b.cache.Path(cache.Key{Ino: f.Ino, Cver: f.Cver}))
		if !bytes.Equal(got, randBytes(int64(i), 100<<10+i)) {
			t.Fatalf("f%d content differs", i)
		}
	}
	if o := b.attr(t, "outside"); o.State != index.StateAbsent || o.Pinned {
		t.Fatalf("outside: %s pinned=%v", o.State, o.Pinned)
	}

	t.Run("new_remote_file_in_pinned_tree", func(t *testing.T) {
		write(p.Ino, "later", []byte("arrived later"))
		if err := a.eng.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
		if err := b.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the new file to be pinned and fetched", func() bool {
			f, err := b.idx.Lookup(bp.Ino, "later")
			return err == nil && f.Pinned && f.State == index.StateResident
		})
	})

	t.Run("evict_refuses_pinned_then_frees_unpinned", func(t *testing.T) {
		r, err := b.eng.Evict(testCtx(t), []uint64{bp.Ino})
		if err != nil {
			t.Fatal(err)
		}
		if r.Evicted != 0 || len(r.Refused) != 4 {
			t.Fatalf("evict pinned tree: %+v", r)
		}
		if _, err := b.eng.Pin([]uint64{bp.Ino}, false); err != nil {
			t.Fatal(err)
		}
		f0, _ := b.idx.Lookup(bp.Ino, "f0")
		if _, err := b.idx.Open(f0.Ino, false, false); err != nil {
			t.Fatal(err)
		}
		r, err = b.eng.Evict(testCtx(t), []uint64{bp.Ino})
		if err != nil {
			t.Fatal(err)
		}
		if r.Evicted != 3 || len(r.Refused) != 1 || r.Refused[0].Path != "f0" {
			t.Fatalf("evict with f0 open: %+v", r)
		}
		b.idx.Release(f0.Ino, false)
		f1, _ := b.idx.Lookup(bp.Ino, "f1")
		if f1.State != index.StateAbsent {
			t.Fatalf("f1 after evict: %s", f1.State)
		}
		if _, err := os.Stat(b.cache.Path(cache.Key{Ino: f1.Ino, Cver: f1.Cver - 1})); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("evicted cache file still there: %v", err)
		}
	})

	t.Run("evict_refuses_staged", func(t *testing.T) {
		st := b.writeFile(t, "mine", []byte("not uploaded"))
		r, err := b.eng.Evict(testCtx(t), []uint64{st.Ino})
		if err != nil {
			t.Fatal(err)
		}
		if r.Evicted != 0 || len(r.Refused) != 1 {
			t.Fatalf("evict staged: %+v", r)
		}
	})
}
