package main

// End-to-end tests of what reading Absent content costs (only the chunks a
// read covers, with read-ahead while the reader runs on) and of a full
// cache disk (ENOSPC, nothing damaged), run through the built binary.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"
)

// bytesDown asks m's daemon how many bytes it has fetched from the store.
func bytesDown(t testing.TB, m *mount) int64 {
	t.Helper()
	cl, err := dial(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := cl.status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st.Engine.BytesDown
}

// streamFile writes size bytes of seed's deterministic stream to path,
// without holding them in memory, and returns their SHA-256.
func streamFile(t testing.TB, path string, seed uint64, size int64) [32]byte {
	t.Helper()
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(rand.NewChaCha8(key), size), buf); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func TestAbsentReadCost(t *testing.T) {
	t.Parallel()
	const size = 256 << 20
	st := localStore(t)
	st.init(t)
	a := mountStore(t, st, "")
	var sum [32]byte
	start := time.Now()
	bounded(t, 3*time.Minute, "writing 256 MiB", func() { sum = streamFile(t, a.path("big.bin"), 9, size) })
	mustSyncfs(t, nil, "sync", "--wait", "3m", a.dir)
	t.Logf("wrote and uploaded %d MiB in %v", size>>20, time.Since(start).Round(time.Millisecond))
	a.unmount(t)

	b := mountStore(t, st, "") // a fresh cache: the file is Absent
	p := b.path("big.bin")
	if got := getState(t, p); got != "absent" {
		t.Fatalf("state %q in a fresh cache", got)
	}
	t.Run("head -c 100", func(t *testing.T) {
		before := bytesDown(t, b)
		var out []byte
		bounded(t, time.Minute, "head", func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var err error
			if out, err = exec.CommandContext(ctx, "head", "-c", "100", p).Output(); err != nil {
				t.Errorf("head: %v", err)
			}
		})
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], 9)
		want := make([]byte, 100)
		rand.NewChaCha8(key).Read(want)
		if !bytes.Equal(out, want) {
			t.Errorf("head returned %d bytes that differ from the file's first 100", len(out))
		}
		down := bytesDown(t, b) - before
		t.Logf("head -c 100 of a %d MiB absent file fetched %d bytes", size>>20, down)
		if down >= 8<<20 {
			t.Errorf("head -c 100 fetched %d bytes, want < 8 MiB", down)
		}
		if got := getState(t, p); got != "partial" {
			t.Errorf("state %q after head, want partial", got)
		}
	})
	t.Run("sequential read fetches the file once", func(t *testing.T) {
		before := bytesDown(t, b)
		start := time.Now()
		var got [32]byte
		bounded(t, 3*time.Minute, "reading 256 MiB", func() {
			f, err := os.Open(p)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			h := sha256.New()
			if _, err := io.Copy(h, f); err != nil {
				t.Errorf("read: %v", err)
			}
			h.Sum(got[:0])
		})
		took := time.Since(start)
		down := bytesDown(t, b) - before
		t.Logf("read %d MiB in %v (%.0f MiB/s), fetched %d bytes", size>>20, took.Round(time.Millisecond), float64(size>>20)/took.Seconds(), down)
		if got != sum {
			t.Error("content read back differs from what was written")
		}
		// Sealed chunks are a little larger than their plaintext; a chunk
		// fetched twice would show as much more.
		if down > size+size/50 {
			t.Errorf("a sequential read fetched %d bytes for a %d-byte file", down, size)
		}
		if got := getState(t, p); got != "resident" {
			t.Errorf("state %q after reading it all, want resident", got)
		}
	})
	b.unmount(t)
}

