package resolver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/index"
)

func openRepo(t *testing.T, s blobstore.Store) *Repo {
	t.Helper()
	repo, err := Open(testCtx(t), s, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// readThroughView reads a file of the root as a new device would.
func readThroughView(t *testing.T, s blobstore.Store, name string) []byte {
	t.Helper()
	v, err := OpenView(testCtx(t), openRepo(t, s), ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	d := &device{idx: v.Index, cache: v.Cache, eng: v.Engine}
	return d.readFile(t, name)
}

func chunkCount(t *testing.T, s blobstore.Store) int {
	t.Helper()
	n := 0
	if err := s.List(testCtx(t), chunksPrefix, func(blobstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPruneDropsOldVersions(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "aaaa")
	v1, v2 := randBytes(1, 3<<20), randBytes(2, 3<<20)
	a.writeFile(t, "f", v1)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	a.writeFile(t, "f", v2)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	both := chunkCount(t, s)
	repo := openRepo(t, s)

	t.Run("keep all versions marks nothing", func(t *testing.T) {
		rep, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: -1})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Candidates != 0 || rep.Marked != 0 {
			t.Fatalf("marked %d objects with every version kept", rep.Candidates)
		}
	})
	t.Run("dry run deletes nothing", func(t *testing.T) {
		rep, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Candidates == 0 || rep.Marked != 0 || chunkCount(t, s) != both {
			t.Fatalf("dry run: %+v, %d chunks of %d", rep, chunkCount(t, s), both)
		}
	})
	t.Run("a live device holds the sweep back", func(t *testing.T) {
		rep, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Marked != 1 || rep.Swept != 0 {
			t.Fatalf("first pass: %+v", rep)
		}
		rep, err = Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Swept != 0 || len(rep.Waiting) != 1 || rep.Waiting[0] != "aaaa" {
			t.Fatalf("swept without the device's acknowledgement: %+v", rep)
		}
	})
	t.Run("after the acknowledgement the sweep deletes the old version", func(t *testing.T) {
		if err := a.eng.Pull(testCtx(t)); err != nil { // sees the epoch
			t.Fatal(err)
		}
		if _, err := a.eng.upload(testCtx(t)); err != nil { // acknowledges it
			t.Fatal(err)
		}
		rep, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Swept != 1 || rep.Deleted == 0 {
			t.Fatalf("sweep: %+v", rep)
		}
		if n := chunkCount(t, s); n >= both {
			t.Fatalf("%d chunks after the sweep, %d before", n, both)
		}
		if got := readThroughView(t, s, "f"); !bytes.Equal(got, v2) {
			t.Fatal("the current version is damaged after the sweep")
		}
		vr, err := VerifyStore(testCtx(t), repo, StoreVerifyOptions{ReadData: true})
		if err != nil || len(vr.Problems) != 0 {
			t.Fatalf("verify after prune: %v %+v", err, vr)
		}
	})
}

// blockingStore holds journal writes whose name has the prefix until
// released, so a test can run a GC pass while a device's chunks are stored
// but not yet named by a sent batch.
type blockingStore struct {
	blobstore.Store
	prefix  string
	release chan struct{}
	blocked atomic.Int32
}

func (b *blockingStore) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	if strings.HasPrefix(name, b.prefix) {
		b.blocked.Add(1)
		select {
		case <-b.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return b.Store.PutIfAbsent(ctx, name, body, size)
}

func TestGCKeepsChunksNotYetJournaled(t *testing.T) {
	s := initStore(t)
	bs := &blockingStore{Store: s, prefix: journalPrefix + "bbbb/", release: make(chan struct{})}
	b := newDevice(t, bs, "bbbb")
	data := randBytes(3, 2<<20)
	b.writeFile(t, "new", data)
	upErr := make(chan error, 1)
	go func() { _, err := b.eng.upload(testCtx(t)); upErr <- err }()
	deadline := time.Now().Add(30 * time.Second)
	for bs.blocked.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upload never reached its journal write")
		}
		time.Sleep(10 * time.Millisecond)
	}
	repo := openRepo(t, s)
	rep, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Marked == 0 || rep.Candidates == 0 {
		t.Fatalf("the stored, not yet journaled chunks were not listed: %+v", rep)
	}
	if err := b.eng.Pull(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	rep, err = Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0})
	if err != nil || rep.Swept != 0 {
		t.Fatalf("swept while the device had chunks in flight: %+v %v", rep, err)
	}
	close(bs.release)
	if err := <-upErr; err != nil {
		t.Fatal(err)
	}
	if _, err := b.eng.upload(testCtx(t)); err != nil { // acknowledges
		t.Fatal(err)
	}
	rep, err = Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0})
	if err != nil || rep.Swept == 0 {
		t.Fatalf("no sweep after the acknowledgement: %+v %v", rep, err)
	}
	if rep.Deleted != 0 {
		t.Fatalf("the sweep deleted %d objects the new batch names", rep.Deleted)
	}
	if got := readThroughView(t, s, "new"); !bytes.Equal(got, data) {
		t.Fatal("content damaged")
	}
}

func TestUploadWaitsForSweepOfDoomedChunk(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "aaaa")
	data := randBytes(4, 2<<20)
	a.writeFile(t, "old", data)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.idx.Unlink(index.RootIno, "old"); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	repo := openRepo(t, s)
	rep, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0})
	if err != nil || rep.Candidates == 0 {
		t.Fatalf("the deleted file's chunks were not listed: %+v %v", rep, err)
	}
	if err := a.eng.Pull(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// The same bytes again, after the device saw the epoch: the upload
	// must not rely on the listed chunks being there.
	a.writeFile(t, "again", data)
	if _, err := a.eng.upload(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.eng.Pending(); p.Files == 0 {
		t.Fatal("content naming a listed chunk was sent before the sweep")
	}
	rep, err = Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0})
	if err != nil || rep.Swept == 0 || rep.Deleted == 0 {
		t.Fatalf("sweep: %+v %v", rep, err)
	}
	if err := a.eng.Pull(testCtx(t)); err != nil { // sees the sweep
		t.Fatal(err)
	}
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	if got := readThroughView(t, s, "again"); !bytes.Equal(got, data) {
		t.Fatal("content uploaded after the sweep is damaged")
	}
}

// failingDeletes lets n deletes through, then fails every one: a GC
// killed in the middle of a sweep.
type failingDeletes struct {
	blobstore.Store
	left atomic.Int32
}

var errKilled = errors.New("killed")

func (f *failingDeletes) Delete(ctx context.Context, name string) error {
	if f.left.Add(-1) < 0 {
		return errKilled
	}
	return f.Store.Delete(ctx, name)
}

func TestSweepKilledAtAnyPoint(t *testing.T) {
	for _, kill := range []int{0, 1, 2, 4} {
		t.Run(fmt.Sprintf("after %d deletes", kill), func(t *testing.T) {
			s := initStore(t)
			a := newDevice(t, s, "aaaa")
			var last []byte
			for i := range 3 {
				last = randBytes(int64(10+i), 3<<20)
				a.writeFile(t, "f", last)
				if err := a.eng.Flush(testCtx(t), nil); err != nil {
					t.Fatal(err)
				}
			}
			keep := randBytes(99, 1<<20)
			a.writeFile(t, "keep", keep)
			if err := a.eng.Flush(testCtx(t), nil); err != nil {
				t.Fatal(err)
			}
			if err := a.eng.SetIdle(testCtx(t), false); err != nil {
				t.Fatal(err)
			}
			fd := &failingDeletes{Store: s}
			fd.left.Store(int32(kill))
			_, err := Prune(testCtx(t), openRepo(t, fd), PruneOptions{KeepWithin: 0})
			if !errors.Is(err, errKilled) {
				t.Fatalf("the killed sweep returned %v", err)
			}
			for _, name := range []string{"f", "keep"} {
				want := map[string][]byte{"f": last, "keep": keep}[name]
				if got := readThroughView(t, s, name); !bytes.Equal(got, want) {
					t.Fatalf("%s damaged by a killed sweep", name)
				}
			}
			rep, err := Prune(testCtx(t), openRepo(t, s), PruneOptions{KeepWithin: 0})
			if err != nil || rep.Swept == 0 {
				t.Fatalf("the next prune did not finish the sweep: %+v %v", rep, err)
			}
			vr, err := VerifyStore(testCtx(t), openRepo(t, s), StoreVerifyOptions{ReadData: true})
			if err != nil || len(vr.Problems) != 0 {
				t.Fatalf("verify: %v %+v", err, vr)
			}
		})
	}
}

func TestForgetDevice(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "0123456789abcdef")
	a.writeFile(t, "x", []byte("x"))
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	repo := openRepo(t, s)
	for _, bad := range []string{"", "nothex", "../../config", "0123456789abcdee"} {
		if err := ForgetDevice(testCtx(t), repo, bad); !errors.Is(err, ErrUnknownDevice) {
			t.Errorf("forget %q: %v", bad, err)
		}
	}
	if err := ForgetDevice(testCtx(t), repo, "0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	devs, err := Devices(testCtx(t), repo)
	if err != nil || len(devs) != 1 || !devs[0].Retired || devs[0].Batches != 1 {
		t.Fatalf("devices: %+v %v", devs, err)
	}
	// The forgotten device, still running, refuses to upload.
	a.writeFile(t, "y", []byte("y"))
	a.eng.mu.Lock()
	a.eng.gc.checked = time.Time{} // as if a minute had passed
	a.eng.mu.Unlock()
	a.eng.upload(testCtx(t))
	if !strings.Contains(a.eng.Status().Stopped, "retired") {
		t.Fatalf("a retired device went on uploading: %+v", a.eng.Status())
	}
}
