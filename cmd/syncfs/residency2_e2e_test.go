package main

// End-to-end tests of what reading Absent content costs (only the chunks a
// read covers, with read-ahead while the reader runs on) and of a full
// cache disk (ENOSPC, nothing damaged), run through the built binary.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// mountTmpfs mounts a tmpfs of size bytes at a new directory and returns
// it; a cleanup unmounts it (detaching it if it is still busy).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs for the cache needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if !poll(10*time.Second, func() bool { return syscall.Unmount(dir, 0) == nil }) {
			t.Errorf("tmpfs %s still busy; detaching it", dir)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// writeSynced creates path with b, fsyncs and closes it, and returns the
// first error.
func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func TestCacheDiskFull(t *testing.T) {
	t.Parallel()
	st := localStore(t)
	st.init(t)
	disk := mountTmpfs(t, 32<<20)
	cacheDir := filepath.Join(disk, "cache")
	// No budget: nothing is evicted to make room, so the disk stays full
	// until a file is deleted.
	m := mountStore(t, st, cacheDir, "--cache-size", "0")

	early := map[string][]byte{}
	for i := range 4 {
		early[fmt.Sprintf("early%d", i)] = content(uint64(100+i), 1<<20)
	}
	early["small.txt"] = []byte("written before the disk filled\n")
	writeFiles(t, m, early)

	var full error
	var filled []string
	bounded(t, 2*time.Minute, "filling the cache disk", func() {
		for i := range 64 { // 64 x 2 MiB is far more than the disk holds
			name := fmt.Sprintf("fill%02d", i)
			filled = append(filled, name)
			if full = writeSynced(m.path(name), content(uint64(200+i), 2<<20)); full != nil {
				return
			}
		}
	})
	t.Run("ENOSPC, not EIO", func(t *testing.T) {
		if !errors.Is(full, syscall.ENOSPC) {
			t.Fatalf("filling a 32 MiB cache disk ended with %v, want ENOSPC\nlog:\n%s", full, readLog(cacheDir))
		}
		t.Logf("%d files of 2 MiB, then: %v", len(filled)-1, full)
	})
	t.Run("daemon stays up", func(t *testing.T) {
		if daemonPID(cacheDir) == 0 {
			t.Fatal("the daemon is gone")
		}
		m.status(t)
		if _, err := os.ReadDir(m.dir); err != nil {
			t.Errorf("readdir: %v", err)
		}
	})
	t.Run("earlier files intact", func(t *testing.T) {
		if failed := readAll(t, m, early); len(failed) > 0 {
			t.Errorf("reads failed on a full disk: %v", failed)
		}
	})
	t.Run("writes work after a delete", func(t *testing.T) {
		for _, name := range filled[len(filled)-4:] {
			if err := os.Remove(m.path(name)); err != nil {
				t.Fatalf("remove %s: %v", name, err)
			}
		}
		filled = filled[:len(filled)-4]
		after := content(300, 1<<20)
		// The space of a removed file is freed once its removal is in the
		// store's journal (Tombstoned, then purged): poll.
		var err error
		var other []error // failures other than ENOSPC on the way
		if !poll(60*time.Second, func() bool {
			err = writeSynced(m.path("after"), after)
			if err != nil && !errors.Is(err, syscall.ENOSPC) && len(other) < 3 {
				other = append(other, err)
			}
			return err == nil
		}) {
			t.Fatalf("write after freeing space: %v\nlog:\n%s", err, readLog(cacheDir))
		}
		if len(other) > 0 {
			// The index reports SQLite's "database or disk is full" with
			// no sentinel, and fs maps what it does not know to EIO.
			t.Errorf("BUG (index, fs/errno.go): while the disk was full, creating a file failed otherwise than with ENOSPC: %v", other)
		}
		early["after"] = after
	})
	m.unmount(t)

	m = mountAt(t, st, m.dir, cacheDir, "--cache-size", "0")
	t.Run("intact after remount", func(t *testing.T) {
		if failed := readAll(t, m, early); len(failed) > 0 {
			t.Errorf("reads failed after remount: %v", failed)
		}
		for i, name := range filled {
			want := content(uint64(200+i), 2<<20)
			got, err := os.ReadFile(m.path(name))
			if err != nil || !bytes.Equal(got, want) {
				// The last fill file may be short (the write that hit
				// ENOSPC); every earlier one was fsynced whole.
				if i < len(filled)-1 {
					t.Errorf("%s: %d bytes, %v", name, len(got), err)
				}
			}
		}
		r := mustSyncfs(t, nil, "fsck", m.dir)
		if !strings.Contains(r.stdout, "no problems") {
			t.Errorf("fsck: %s", r)
		}
	})
	m.unmount(t)
}
