package fstests

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ignoringEINTR retries f while it fails with EINTR. A FUSE request can be
// interrupted by a signal (the Go runtime's preemption signal is enough), and
// the os package retries such calls itself; raw unix calls do not.
func ignoringEINTR(f func() error) error {
	for {
		err := f()
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func statErr(path string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := ignoringEINTR(func() error { return unix.Stat(path, &st) })
	return st, err
}

func lstatErr(path string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := ignoringEINTR(func() error { return unix.Lstat(path, &st) })
	return st, err
}

func mustStat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	st, err := statErr(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return st
}

func mustLstat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	st, err := lstatErr(path)
	if err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	return st
}

func mustFstat(t *testing.T, f *os.File) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(int(f.Fd()), &st) }); err != nil {
		t.Fatalf("fstat %s: %v", f.Name(), err)
	}
	return st
}

// fileType returns the S_IFMT bits of a mode.
func fileType(mode uint32) uint32 { return mode & unix.S_IFMT }

// create makes a new file holding data, failing the test if the name exists.
func create(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		t.Fatalf("write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close %s: %v", path, err)
	}
}

func mustOpen(t *testing.T, path string, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func mustMkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", path, err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

// readAt reads n bytes at off, or fewer only at end of file.
func readAt(t *testing.T, f *os.File, off int64, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read %s at %d: %v", f.Name(), off, err)
	}
	return buf[:got]
}

func writeAt(t *testing.T, f *os.File, off int64, data []byte) {
	t.Helper()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatalf("write %s at %d: %v", f.Name(), off, err)
	}
}

// expectErrno reports whether err is want, and fails the test if not.
func expectErrno(t *testing.T, what string, err error, want unix.Errno) bool {
	t.Helper()
	if errors.Is(err, want) {
		return true
	}
	if err == nil {
		t.Errorf("%s: succeeded, want %s (%v)", what, unix.ErrnoName(want), want)
	} else {
		t.Errorf("%s: got %v, want %s (%v)", what, err, unix.ErrnoName(want), want)
	}
	return false
}

// expectBytes fails the test if got differs from want, naming the first
// differing offset rather than dumping megabytes.
func expectBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	if len(got) <= 64 && len(want) <= 64 {
		t.Errorf("%s: got %q, want %q", what, got, want)
		return
	}
	t.Errorf("%s: got %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
}

func expectSize(t *testing.T, path string, want int64) {
	t.Helper()
	if st := mustStat(t, path); st.Size != want {
		t.Errorf("size of %s: got %d, want %d", path, st.Size, want)
	}
}

func expectNlink(t *testing.T, path string, want uint64) {
	t.Helper()
	if st := mustLstat(t, path); uint64(st.Nlink) != want {
		t.Errorf("link count of %s: got %d, want %d", path, st.Nlink, want)
	}
}

func expectMissing(t *testing.T, path string) {
	t.Helper()
	_, err := lstatErr(path)
	expectErrno(t, "lstat "+path, err, unix.ENOENT)
}

// listNames returns a directory's entry names in the order readdir gave
// them, reading batch names per getdents round (all at once if batch <= 0)
// so that callers can exercise the continuation offsets.
func listNames(t *testing.T, dir string, batch int) []string {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatalf("open directory %s: %v", dir, err)
	}
	defer f.Close()
	if batch <= 0 {
		names, err := f.Readdirnames(-1)
		if err != nil {
			t.Fatalf("readdir %s: %v", dir, err)
		}
		return names
	}
	var names []string
	for {
		part, err := f.Readdirnames(batch)
		names = append(names, part...)
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatalf("readdir %s: %v", dir, err)
		}
	}
}

// expectNames fails the test unless dir lists exactly want (in any order),
// each name once.
func expectNames(t *testing.T, dir string, batch int, want ...string) {
	t.Helper()
	got := listNames(t, dir, batch)
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if slices.Equal(got, want) {
		return
	}
	if len(got) > 20 || len(want) > 20 {
		t.Errorf("readdir %s: got %d names, want %d; first difference: %s", dir, len(got), len(want), firstDiff(got, want))
		return
	}
	t.Errorf("readdir %s: got %q, want %q", dir, got, want)
}

func firstDiff(got, want []string) string {
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			return "got " + strconv.Quote(got[i]) + ", want " + strconv.Quote(want[i])
		}
	}
	if len(got) > len(want) {
		return "extra " + strconv.Quote(got[len(want)])
	}
	return "missing " + strconv.Quote(want[len(got)])
}

// newRand returns a seeded generator. The seed is FSTESTS_SEED if set, else
// the clock; it is logged if the check fails, so the run can be replayed.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FSTESTS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("parse FSTESTS_SEED: %v", err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("random seed: FSTESTS_SEED=%d", seed)
		}
	})
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func join(dir string, elem ...string) string {
	return filepath.Join(append([]string{dir}, elem...)...)
}

// timespec converts a time to the kernel's form.
func timespec(tm time.Time) unix.Timespec {
	return unix.NsecToTimespec(tm.UnixNano())
}

func sameTime(ts unix.Timespec, want time.Time) bool {
	return int64(ts.Sec) == want.Unix() && int64(ts.Nsec) == int64(want.Nanosecond())
}

func tsString(ts unix.Timespec) string {
	return time.Unix(int64(ts.Sec), int64(ts.Nsec)).UTC().Format(time.RFC3339Nano)
}

// The wrappers below are the raw system calls, retried on EINTR, so that an
// errno a check expects is exactly the kernel's.

func rename(from, to string) error {
	return ignoringEINTR(func() error { return unix.Rename(from, to) })
}

func link(from, to string) error {
	return ignoringEINTR(func() error { return unix.Link(from, to) })
}

func unlink(path string) error {
	return ignoringEINTR(func() error { return unix.Unlink(path) })
}

func rmdir(path string) error {
	return ignoringEINTR(func() error { return unix.Rmdir(path) })
}

func utimes(path string, ts []unix.Timespec, flags int) error {
	return ignoringEINTR(func() error { return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, flags) })
}
