package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRanges(t *testing.T) {
	var r ranges
	r.add(10, 20)
	r.add(30, 40)
	r.add(20, 30)
	if fmt.Sprint(r) != "[[10 40]]" {
		t.Fatalf("merge: %v", r)
	}
	r.add(0, 5)
	r.add(50, 60)
	if !r.covers(12, 40) || r.covers(4, 11) || !r.covers(7, 7) {
		t.Fatalf("covers wrong: %v", r)
	}
	if g := fmt.Sprint(r.gaps(0, 70)); g != "[[5 10] [40 50] [60 70]]" {
		t.Fatalf("gaps %s", g)
	}
	if g := r.gaps(12, 18); len(g) != 0 {
		t.Fatalf("gaps inside %v", g)
	}
}

// chunkFetcher serves content in 100-byte chunks and counts fetches.
type chunkFetcher struct {
	data  []byte
	calls atomic.Int64
}

func (f *chunkFetcher) Fetch(ctx context.Context, k Key, off, n int64, dst io.WriterAt) (int64, int64, error) {
	f.calls.Add(1)
	start := off / 100 * 100
	end := min((off+n+99)/100*100, int64(len(f.data)))
	_, err := dst.WriteAt(f.data[start:end], start)
	return start, end, err
}

func TestEnsureFetchesOnlyMissing(t *testing.T) {
	data := make([]byte, 1000)
	rand.New(rand.NewSource(1)).Read(data)
	f := &chunkFetcher{data: data}
	c, err := New(t.TempDir(), f)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{Ino: 7, Cver: 1}
	done, err := c.Ensure(t.Context(), k, 1000, 150, 10)
	if err != nil || done {
		t.Fatalf("ensure: %v %v", done, err)
	}
	if f.calls.Load() != 1 {
		t.Fatalf("calls %d", f.calls.Load())
	}
	c.Ensure(t.Context(), k, 1000, 110, 80)
	if f.calls.Load() != 1 {
		t.Fatalf("refetched present bytes: calls %d", f.calls.Load())
	}
	// Concurrent readers of one region cause one fetch, plus one
	// read-ahead past it (the reads run on from where the last ended).
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Ensure(context.Background(), k, 1000, 500, 50); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if f.calls.Load() != 3 {
		t.Fatalf("concurrent fetches: calls %d", f.calls.Load())
	}
	// A new Cache over the same directory remembers what is present.
	c2, _ := New(c.dir, f)
	c2.Ensure(t.Context(), k, 1000, 100, 100)
	if f.calls.Load() != 3 {
		t.Fatalf("present ranges not persisted: calls %d", f.calls.Load())
	}
	done, err = c2.Ensure(t.Context(), k, 1000, 0, 1000)
	if err != nil || !done {
		t.Fatalf("full ensure: %v %v", done, err)
	}
	got, _ := os.ReadFile(c.Path(k))
	if !bytes.Equal(got, data) {
		t.Fatal("cache file content differs")
	}
	if err := c2.Remove(k); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Path(k)); !os.IsNotExist(err) {
		t.Fatalf("removed file still there: %v", err)
	}
}

type failFetcher struct{}

func (failFetcher) Fetch(ctx context.Context, k Key, off, n int64, dst io.WriterAt) (int64, int64, error) {
	return 0, 0, fmt.Errorf("store down")
}

func TestEnsureFailureRecordsNothing(t *testing.T) {
	c, _ := New(t.TempDir(), failFetcher{})
	k := Key{Ino: 1}
	if _, err := c.Ensure(t.Context(), k, 100, 0, 10); err == nil {
		t.Fatal("no error from failing fetcher")
	}
	if p, _ := c.Present(k); len(p) != 0 {
		t.Fatalf("present after failure: %v", p)
	}
}
