package fs

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/metrics"
)

// readRequests returns how many READ requests fsys has served.
func readRequests(t *testing.T, m *metrics.Metrics) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "syncfs_fuse_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == "READ" {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatal("no READ counter")
	return 0
}

// writeAged writes a file and sets its access time after its modification
// time, so that relatime lets reads skip the daemon.
func writeAged(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := os.Chtimes(p, now.Add(time.Second), now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// TestWarmReadsSkipTheDaemon reads a file twice, with and without
// passthrough: the second read costs no READ request, from the kernel's page
// cache (kept across opens while the content version is unchanged) or from
// the cache file itself.
func TestWarmReadsSkipTheDaemon(t *testing.T) {
	for _, noPassthrough := range []bool{false, true} {
		name := "passthrough"
		if noPassthrough {
			name = "page-cache"
		}
		t.Run(name, func(t *testing.T) {
			m := metrics.New()
			mnt, _, _ := mountWith(t, func(o *Options) { o.Metrics, o.NoPassthrough = m, noPassthrough })
			p := filepath.Join(mnt, "f")
			data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
			writeAged(t, p, data)
			for i := range 3 {
				before := readRequests(t, m)
				got, err := os.ReadFile(p)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read %d: %d bytes, %v", i, len(got), err)
				}
				if n := readRequests(t, m) - before; i > 0 && n != 0 {
					t.Errorf("read %d of an unchanged file: %v READ requests, want 0", i, n)
				}
			}
		})
	}
}

// TestPassthroughWriterBesideReader opens a writer while a passthrough
// reader holds the file: the writer passes through too (the kernel allows
// nothing else), and what it writes reaches the reader, stat and the index.
func TestPassthroughWriterBesideReader(t *testing.T) {
	mnt, idx, fsys := mountWith(t, nil)
	p := filepath.Join(mnt, "f")
	writeAged(t, p, []byte("hello, world"))
	r, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(r.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	ino := st.Ino
	fsys.mu.Lock()
	io := fsys.io[ino]
	passthrough := io != nil && io.backingRefs == 1
	fsys.mu.Unlock()
	if !passthrough {
		if !fsys.passthroughUsable() {
			t.Skip("the kernel offers no FUSE passthrough here")
		}
		t.Fatalf("reader of a wholly local file is not passthrough: %+v", io)
	}

	w, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("open a writer beside a passthrough reader: %v", err)
	}
	if _, err := w.WriteString(" and more"); err != nil {
		t.Fatal(err)
	}
	want := "hello, world and more"
	if fi, err := os.Stat(p); err != nil || fi.Size() != int64(len(want)) {
		t.Fatalf("stat after a passthrough append: %v %v, want size %d", fi.Size(), err, len(want))
	}
	buf := make([]byte, 64)
	n, _ := r.ReadAt(buf, 0)
	if string(buf[:n]) != want {
		t.Fatalf("reader sees %q, want %q", buf[:n], want)
	}
	// Times set while the writer is open stick: earlier writes do not
	// override them later.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := idx.GetAttr(ino)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != int64(len(want)) || a.Mtime != old.UnixNano() || a.State != index.StateStaged {
		t.Fatalf("index after the writer closed: size %d mtime %v state %v, want %d, %v, staged",
			a.Size, time.Unix(0, a.Mtime).UTC(), a.State, len(want), old)
	}
	// A write after the times were set moves them again.
	w, err = os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("H"), 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.ModTime().After(old.Add(time.Hour)) {
		t.Fatalf("mtime after a passthrough write: %v %v", fi.ModTime(), err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "H"+want[1:] {
		t.Fatalf("content: %q %v", got, err)
	}
	r.Close()
	// The kernel sends RELEASE after close(2) returns: wait for it, bounded.
	refs := -1
	for deadline := time.Now().Add(10 * time.Second); refs != 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		fsys.mu.Lock()
		io = fsys.io[ino]
		refs = io.backingRefs + io.ptWriters
		fsys.mu.Unlock()
	}
	if refs != 0 {
		t.Fatalf("after every handle closed, %d passthrough references remain", refs)
	}
}
