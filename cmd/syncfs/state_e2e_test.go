package main

// The residency xattr user.syncfs.state through a file's life, as
// DESIGN.md's Residency section describes it.

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStateXattr(t *testing.T) {
	t.Parallel()
	st := localStore(t)
	st.init(t)
	const rel = "big.bin"
	data := content(5, 6<<20) // several ~1 MiB chunks
	m := mountStore(t, st, "")
	writeFiles(t, m, map[string][]byte{rel: data})
	t.Run("written is staged", func(t *testing.T) {
		// The uploader may already have taken it.
		if got := getState(t, m.path(rel)); got != "staged" && got != "resident" {
			t.Errorf("state %q after writing, want staged (or resident)", got)
		}
	})
	mustSyncfs(t, nil, "sync", "--wait", "30s", m.dir)
	t.Run("uploaded is resident", func(t *testing.T) {
		if got := getState(t, m.path(rel)); got != "resident" {
			t.Errorf("state %q after sync, want resident", got)
		}
	})
	t.Run("hidden and read-only", func(t *testing.T) {
		buf := make([]byte, 1024)
		n, err := syscall.Listxattr(m.path(rel), buf)
		if err != nil || strings.Contains(string(buf[:max(n, 0)]), "syncfs") {
			t.Errorf("listxattr shows %q (%v)", buf[:max(n, 0)], err)
		}
		if err := syscall.Setxattr(m.path(rel), "user.syncfs.state", []byte("resident"), 0); !errors.Is(err, syscall.EPERM) {
			t.Errorf("setxattr user.syncfs.state: %v, want EPERM", err)
		}
	})
	m.unmount(t)

	m = mountStore(t, st, "")
	p := m.path(rel)
	if got := getState(t, p); got != "absent" {
		t.Errorf("state %q in a fresh cache, want absent", got)
	}
	t.Run("partly read is partial", func(t *testing.T) {
		bounded(t, time.Minute, "reading one byte", func() {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := make([]byte, 1)
			if _, err := f.ReadAt(b, 0); err != nil || b[0] != data[0] {
				t.Errorf("read one byte: %v", err)
			}
		})
		// DESIGN.md: "Absent: ... or only some ranges (shown as
		// "partial")".
		if got := getState(t, p); got != "partial" {
			down := "?"
			if tr := trafficRe.FindStringSubmatch(m.status(t)); tr != nil {
				down = tr[2]
			}
			t.Errorf("BUG (fs): state %q after reading 1 byte of %d (%s fetched), want partial", got, len(data), down)
		}
	})
	t.Run("fully read is resident", func(t *testing.T) {
		bounded(t, time.Minute, "reading", func() {
			if b, err := os.ReadFile(p); err != nil || string(b) != string(data) {
				t.Errorf("read: %d bytes, %v", len(b), err)
			}
		})
		if got := getState(t, p); got != "resident" {
			t.Errorf("state %q after a full read, want resident", got)
		}
	})
	m.unmount(t)
}
