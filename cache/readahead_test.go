package cache

import (
	"context"
	"io"
	"sync"
	"testing"
)

// sparseFetcher pretends to fetch 1 MiB chunks: it writes only the last
// byte of each range (the cache file stays sparse) and records each call.
type sparseFetcher struct {
	mu    sync.Mutex
	calls [][2]int64 // off, n as asked
}

const testChunk = 1 << 20

func (f *sparseFetcher) Fetch(ctx context.Context, k Key, off, n int64, dst io.WriterAt) (int64, int64, error) {
	f.mu.Lock()
	f.calls = append(f.calls, [2]int64{off, n})
	f.mu.Unlock()
	start := off / testChunk * testChunk
	end := (off + n + testChunk - 1) / testChunk * testChunk
	if _, err := dst.WriteAt([]byte{1}, end-1); err != nil {
		return 0, 0, err
	}
	return start, end, nil
}

func (f *sparseFetcher) take() [][2]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func TestReadAhead(t *testing.T) {
	const size = 1 << 30
	newCache := func(t *testing.T) (*Cache, *sparseFetcher) {
		f := &sparseFetcher{}
		c, err := New(t.TempDir(), f)
		if err != nil {
			t.Fatal(err)
		}
		return c, f
	}
	k := Key{Ino: 1, Cver: 1}
	const step = 128 << 10

	t.Run("window doubles while reads run on", func(t *testing.T) {
		c, f := newCache(t)
		var aheads []int64
		for off := int64(0); off < 100<<20; off += step {
			if _, err := c.Ensure(t.Context(), k, size, off, step); err != nil {
				t.Fatal(err)
			}
			calls := f.take()
			// Each miss asks for the read, then for what the read-ahead
			// window past the read's end still lacks.
			if len(calls) == 2 {
				aheads = append(aheads, calls[1][0]+calls[1][1]-(off+step))
			} else if len(calls) != 0 {
				t.Fatalf("read at %d made calls %v", off, calls)
			}
		}
		want := []int64{1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20, 32 << 20, 32 << 20}
		if len(aheads) < len(want) {
			t.Fatalf("read-aheads %v, want at least %v", aheads, want)
		}
		for i, w := range want {
			if aheads[i] != w {
				t.Fatalf("read-aheads %v, want %v first", aheads, want)
			}
		}
	})

	t.Run("a seek starts over", func(t *testing.T) {
		c, f := newCache(t)
		for off := int64(0); off < 20<<20; off += step {
			if _, err := c.Ensure(t.Context(), k, size, off, step); err != nil {
				t.Fatal(err)
			}
		}
		f.take()
		// A read far away: its own bytes only.
		if _, err := c.Ensure(t.Context(), k, size, 500<<20, 4096); err != nil {
			t.Fatal(err)
		}
		if calls := f.take(); len(calls) != 1 || calls[0] != [2]int64{500 << 20, 4096} {
			t.Fatalf("a seek made calls %v, want only its own range", calls)
		}
		// Reading on from there starts the window again at its smallest.
		if _, err := c.Ensure(t.Context(), k, size, 501<<20, step); err != nil {
			t.Fatal(err)
		}
		if calls := f.take(); len(calls) != 2 || calls[1][0]+calls[1][1] != 501<<20+step+readAheadMin {
			t.Fatalf("reading on after a seek made calls %v, want a read-ahead of %d", calls, readAheadMin)
		}
	})

	t.Run("read-ahead stops at the end", func(t *testing.T) {
		c, f := newCache(t)
		const small = 3 << 19 // 1.5 MiB
		done, err := c.Ensure(t.Context(), k, small, 0, testChunk)
		if err != nil {
			t.Fatal(err)
		}
		calls := f.take()
		if !done || len(calls) != 2 || calls[1] != [2]int64{testChunk, small - testChunk} {
			t.Fatalf("done %v, calls %v: want the read-ahead to end at %d", done, calls, small)
		}
	})
}
