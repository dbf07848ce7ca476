package resolver

import (
	"bytes"
	"os"
	"sync"
	"testing"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// TestFetchRanges checks what reads of an Absent file cost in GETs and
// bytes: only the chunks a read (and its read-ahead) covers, each once.
func TestFetchRanges(t *testing.T) {
	fault := blobstore.NewFault(initStore(t), 1)
	a := newDevice(t, fault, "aaaa")
	data := randBytes(7, 24<<20) // about 20 chunks at the default sizes
	a.writeFile(t, "big", data)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}

	// fresh returns a new device that knows the file but has none of it,
	// the file's key, size and chunk list.
	fresh := func(t *testing.T, name string) (*device, cache.Key, int64, []index.ChunkRef) {
		t.Helper()
		d := newDevice(t, fault, name)
		if err := d.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		at := d.attr(t, "big")
		c, err := d.idx.ContentOf(at.Ino, at.Cver)
		if err != nil {
			t.Fatal(err)
		}
		if at.State != index.StateAbsent || len(c.Chunks) < 8 {
			t.Fatalf("file is %v with %d chunks; want absent with many", at.State, len(c.Chunks))
		}
		return d, cache.Key{Ino: at.Ino, Cver: at.Cver}, at.Size, c.Chunks
	}
	// covering returns how many chunks, and of how many plaintext bytes,
	// overlap [from, to).
	covering := func(refs []index.ChunkRef, from, to int64) (n int, bytes int64) {
		var pos int64
		for _, r := range refs {
			if pos < to && pos+r.Len > from {
				n++
				bytes += r.Len
			}
			pos += r.Len
		}
		return n, bytes
	}
	gets := func() (int, int64) { return fault.Calls(blobstore.OpGet), fault.BytesRead() }

	t.Run("head reads two chunks at most", func(t *testing.T) {
		d, key, size, refs := fresh(t, "head")
		g0, b0 := gets()
		if _, err := d.cache.Ensure(testCtx(t), key, size, 0, 100); err != nil {
			t.Fatal(err)
		}
		g1, b1 := gets()
		// The chunk with the bytes asked for, and a read-ahead of about
		// one chunk (1 MiB) past them.
		want, plain := covering(refs, 0, 100+1<<20)
		if g1-g0 != want {
			t.Errorf("a 100-byte read made %d GETs, want %d (the chunks over the first 1 MiB)", g1-g0, want)
		}
		if want > 3 || b1-b0 > plain+plain/10+4096 || b1-b0 > 9<<20 {
			t.Errorf("a 100-byte read fetched %d bytes in %d chunks (%d plaintext)", b1-b0, want, plain)
		}
		got := make([]byte, 100)
		f, err := os.Open(d.cache.Path(key))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.ReadAt(got, 0); err != nil || !bytes.Equal(got, data[:100]) {
			t.Errorf("first 100 bytes differ (%v)", err)
		}
	})

	t.Run("sequential read fetches each chunk once", func(t *testing.T) {
		d, key, size, refs := fresh(t, "seqr")
		g0, _ := gets()
		const step = 128 << 10 // the kernel's usual request
		done := false
		for off := int64(0); off < size; off += step {
			var err error
			if done, err = d.cache.Ensure(testCtx(t), key, size, off, step); err != nil {
				t.Fatal(err)
			}
		}
		g1, _ := gets()
		if !done {
			t.Fatal("not complete after reading every byte")
		}
		if g1-g0 != len(refs) {
			t.Errorf("sequential read made %d GETs for %d chunks", g1-g0, len(refs))
		}
		got, err := os.ReadFile(d.cache.Path(key))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("content differs after a sequential read (%v)", err)
		}
	})

	t.Run("concurrent readers of one chunk make one GET", func(t *testing.T) {
		d, key, size, refs := fresh(t, "conc")
		// A read in the middle is a seek: no read-ahead, one chunk.
		mid := size / 2
		if n, _ := covering(refs, mid, mid+100); n != 1 {
			t.Fatalf("%d chunks over 100 bytes", n)
		}
		g0, _ := gets()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				if _, err := d.cache.Ensure(testCtx(t), key, size, mid, 100); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if g1, _ := gets(); g1-g0 != 1 {
			t.Errorf("8 concurrent readers of one chunk made %d GETs, want 1", g1-g0)
		}
	})
}
