package fstests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// MmapShared checks that bytes stored through a MAP_SHARED mapping are
// seen by read(2) on another descriptor, survive munmap and close, and that
// write(2) is seen through a mapping made before it.
//
// The mapping is only touched right after madvise(MADV_POPULATE_*) has
// faulted its pages in: when the file system is served by this same
// process, a page fault taken in Go code waits for the server while the
// runtime, which sees a running goroutine rather than a system call, may be
// stopping the world for the collector, and neither can go on.
func MmapShared(t *testing.T, dir string) {
	p := join(dir, "file")
	page := os.Getpagesize()
	create(t, p, bytes.Repeat([]byte{'.'}, 2*page))
	f := mustOpen(t, p, os.O_RDWR)
	m, err := unix.Mmap(int(f.Fd()), 0, 2*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	populate := func(advice int) {
		t.Helper()
		if err := ignoringEINTR(func() error { return unix.Madvise(m, advice) }); err != nil {
			t.Fatalf("madvise %d: %v", advice, err)
		}
	}
	populate(unix.MADV_POPULATE_WRITE)
	copy(m[10:], "mapped")
	copy(m[page+1:], "second page")
	if err := ignoringEINTR(func() error { return unix.Msync(m, unix.MS_SYNC) }); err != nil {
		t.Errorf("msync: %v", err)
	}
	r := mustOpen(t, p, os.O_RDONLY)
	expectBytes(t, "read after a store through the mapping", readAt(t, r, 10, 6), []byte("mapped"))
	expectBytes(t, "read of the second page", readAt(t, r, int64(page+1), 11), []byte("second page"))

	writeAt(t, f, 20, []byte("written"))
	populate(unix.MADV_POPULATE_READ)
	if got := string(m[20:27]); got != "written" {
		t.Errorf("mapping after write(2): got %q, want %q", got, "written")
	}
	populate(unix.MADV_POPULATE_WRITE)
	copy(m[30:], "unsynced")
	if err := unix.Munmap(m); err != nil {
		t.Fatalf("munmap: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	b := readFile(t, p)
	if len(b) != 2*page {
		t.Fatalf("size after the mapping: got %d, want %d", len(b), 2*page)
	}
	expectBytes(t, "content after munmap and close", b[10:38], []byte("mapped....written...unsynced"))
	if st := mustStat(t, p); st.Size != int64(2*page) {
		t.Errorf("size: got %d, want %d", st.Size, 2*page)
	}
}

// alignedBuffer returns n bytes aligned to a page, as O_DIRECT wants them
// on most file systems, and a function that frees them.
func alignedBuffer(t *testing.T, n int) ([]byte, func()) {
	t.Helper()
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatalf("mmap an aligned buffer: %v", err)
	}
	return b, func() { _ = unix.Munmap(b) }
}

// DirectIO checks O_DIRECT reads and writes of aligned blocks, that they
// agree with buffered I/O in both directions, and that size follows them.
func DirectIO(t *testing.T, dir string) {
	p := join(dir, "file")
	const n = 64 << 10
	buf, free := alignedBuffer(t, n)
	defer free()
	r := newRand(t)
	want := randomBytes(r, n)
	copy(buf, want)
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_RDWR|unix.O_DIRECT|unix.O_CLOEXEC, 0o644)
	if err != nil {
		t.Fatalf("open O_DIRECT: %v", err)
	}
	defer unix.Close(fd)
	if got, err := unix.Pwrite(fd, buf, 4096); err != nil || got != n {
		t.Fatalf("O_DIRECT write: %d %v", got, err)
	}
	expectSize(t, p, 4096+n)
	b := readFile(t, p)
	expectBytes(t, "buffered read of an O_DIRECT write", b[4096:], want)
	expectBytes(t, "the hole before it", b[:4096], make([]byte, 4096))

	f := mustOpen(t, p, os.O_WRONLY)
	writeAt(t, f, 8192, []byte("buffered"))
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync: %v", err)
	}
	clear(buf)
	if got, err := unix.Pread(fd, buf[:4096], 8192); err != nil || got != 4096 {
		t.Fatalf("O_DIRECT read: %d %v", got, err)
	}
	expectBytes(t, "O_DIRECT read of a buffered write", buf[:8], []byte("buffered"))
	if got, err := unix.Pread(fd, buf[:4096], int64(4096+n)); err != nil || got != 0 {
		t.Errorf("O_DIRECT read at end of file: %d bytes, %v", got, err)
	}
}

// SyncCalls checks that fsync, fdatasync and syncfs succeed on files and
// directories, including a file opened read-only and one unlinked while
// open, and leave the content as it was.
func SyncCalls(t *testing.T, dir string) {
	p := join(dir, "file")
	create(t, p, []byte("content"))
	for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR} {
		f := mustOpen(t, p, flag)
		fd := int(f.Fd())
		for name, call := range map[string]func(int) error{"fsync": unix.Fsync, "fdatasync": unix.Fdatasync, "syncfs": unix.Syncfs} {
			if err := ignoringEINTR(func() error { return call(fd) }); err != nil {
				t.Errorf("%s (open flags %#x): %v", name, flag, err)
			}
		}
	}
	d := mustOpen(t, dir, os.O_RDONLY)
	if err := ignoringEINTR(func() error { return unix.Fsync(int(d.Fd())) }); err != nil {
		t.Errorf("fsync a directory: %v", err)
	}
	f := mustOpen(t, join(dir, "gone"), os.O_CREATE|os.O_RDWR)
	writeAt(t, f, 0, []byte("unlinked"))
	if err := unlink(join(dir, "gone")); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("fsync an unlinked file: %v", err)
	}
	expectBytes(t, "unlinked file after fsync", readAt(t, f, 0, 100), []byte("unlinked"))
	expectBytes(t, "file after the syncs", readFile(t, p), []byte("content"))
}

// SparseLarge checks a file past 4 GiB written sparsely: the size, the
// bytes written at both ends of the 32-bit boundary, zeros in the holes,
// and shrinking it back below 4 GiB.
func SparseLarge(t *testing.T, dir string) {
	p := join(dir, "big")
	f := mustOpen(t, p, os.O_CREATE|os.O_RDWR)
	const four = int64(4) << 30
	writeAt(t, f, four-3, []byte("across"))
	writeAt(t, f, 5*four/4, []byte("end"))
	expectSize(t, p, 5*four/4+3)
	expectBytes(t, "bytes across 4 GiB", readAt(t, f, four-3, 6), []byte("across"))
	expectBytes(t, "a hole past 4 GiB", readAt(t, f, four+100, 8), make([]byte, 8))
	expectBytes(t, "a hole at the start", readAt(t, f, 0, 8), make([]byte, 8))
	expectBytes(t, "the end", readAt(t, f, 5*four/4, 10), []byte("end"))
	if err := f.Truncate(four - 1); err != nil {
		t.Fatalf("ftruncate below 4 GiB: %v", err)
	}
	expectSize(t, p, four-1)
	expectBytes(t, "bytes left below the cut", readAt(t, f, four-3, 10), []byte("ac"))
	if st := mustFstat(t, f); st.Blocks*512 > 64<<20 {
		t.Errorf("a sparse file of %d bytes uses %d blocks", st.Size, st.Blocks)
	}
}

// Statfs checks that statfs(2) reports a sane file system: a block size,
// free space no larger than the total, and 255-byte names.
func Statfs(t *testing.T, dir string) {
	var st unix.Statfs_t
	if err := ignoringEINTR(func() error { return unix.Statfs(dir, &st) }); err != nil {
		t.Fatalf("statfs: %v", err)
	}
	if st.Bsize <= 0 || st.Blocks == 0 || st.Bfree > st.Blocks || st.Bavail > st.Bfree {
		t.Errorf("statfs: bsize %d blocks %d bfree %d bavail %d", st.Bsize, st.Blocks, st.Bfree, st.Bavail)
	}
	if st.Namelen != 255 {
		t.Errorf("statfs: name length %d, want 255", st.Namelen)
	}
	if st.Files != 0 && st.Ffree > st.Files {
		t.Errorf("statfs: %d free inodes of %d", st.Ffree, st.Files)
	}
	f := mustOpen(t, dir, os.O_RDONLY)
	var fst unix.Statfs_t
	if err := ignoringEINTR(func() error { return unix.Fstatfs(int(f.Fd()), &fst) }); err != nil {
		t.Fatalf("fstatfs: %v", err)
	}
	if fst.Blocks != st.Blocks || fst.Bsize != st.Bsize {
		t.Errorf("fstatfs disagrees with statfs: %d blocks of %d, want %d of %d", fst.Blocks, fst.Bsize, st.Blocks, st.Bsize)
	}
}

// ExecTextBusy checks that a program runs from the directory and that,
// while it runs, opening its file for writing fails with ETXTBSY.
//
// A shell outside the directory execs the program: the runtime starts a
// child with vfork, which holds the parent thread until the child's exec
// has found its program, and a collector stopping the world meanwhile would
// wait for that thread while a file system served by this same process
// waits for the collector.
func ExecTextBusy(t *testing.T, dir string) {
	src, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("no sleep program to copy: %v", err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("read %s: %v", src, err)
	}
	p := join(dir, "sleep")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatalf("write the program: %v", err)
	}
	cmd := exec.Command("/bin/sh", "-c", `exec "$0" 60`, p)
	if err := cmd.Start(); err != nil {
		t.Fatalf("run a program from the directory: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		select {
		case <-waited:
		case <-time.After(stepTimeout):
			t.Errorf("the program did not exit within %v of being killed", stepTimeout)
		}
	}()
	// The program runs once the shell has exec'd it, which cmd.Start does
	// not wait for: poll its /proc entry, with a deadline.
	exe := fmt.Sprintf("/proc/%d/exe", cmd.Process.Pid)
	for deadline := time.Now().Add(stepTimeout); ; {
		if target, err := os.Readlink(exe); err == nil && target == p {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program did not start within %v", stepTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	w, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err == nil {
		_ = w.Close()
	}
	expectErrno(t, "open a running program for writing", err, unix.ETXTBSY)
	if _, err := os.ReadFile(p); err != nil {
		t.Errorf("read a running program: %v", err)
	}
}

// AtimeRelatime checks access times under relatime, the default: a read
// moves the access time when it is not after the modification time, a
// second read right after does not, and O_NOATIME reads never do. It skips
// a file system mounted noatime or strictatime, where the rule differs.
func AtimeRelatime(t *testing.T, dir string) {
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		t.Fatalf("statfs: %v", err)
	}
	if sfs.Flags&unix.ST_RELATIME == 0 || sfs.Flags&unix.ST_NOATIME != 0 {
		t.Skipf("not mounted relatime (statfs flags %#x)", sfs.Flags)
	}
	p := join(dir, "file")
	create(t, p, []byte("content"))
	old := time.Now().Add(-time.Hour)
	mtime := time.Now().Add(-time.Minute)
	if err := utimes(p, []unix.Timespec{timespec(old), timespec(mtime)}, 0); err != nil {
		t.Fatalf("utimensat: %v", err)
	}
	start := time.Now()
	readFile(t, p)
	st := mustStat(t, p)
	expectRecent(t, "atime after a read with atime before mtime", st.Atim, start)
	first := st.Atim
	readFile(t, p)
	if st := mustStat(t, p); st.Atim != first {
		t.Errorf("atime moved on a second read: %s, then %s", tsString(first), tsString(st.Atim))
	}
	if err := utimes(p, []unix.Timespec{timespec(old), timespec(mtime)}, 0); err != nil {
		t.Fatalf("utimensat: %v", err)
	}
	f := mustOpen(t, p, os.O_RDONLY|unix.O_NOATIME)
	readAt(t, f, 0, 10)
	if st := mustStat(t, p); !sameTime(st.Atim, old) {
		t.Errorf("atime after an O_NOATIME read: %s, want it unchanged", tsString(st.Atim))
	}
	if st := mustStat(t, p); !sameTime(st.Mtim, mtime) {
		t.Errorf("mtime after reads: %s, want it unchanged", tsString(st.Mtim))
	}
	d := join(dir, "d")
	mustMkdir(t, d)
	if err := utimes(d, []unix.Timespec{timespec(old), timespec(mtime)}, 0); err != nil {
		t.Fatalf("utimensat: %v", err)
	}
	start = time.Now()
	listNames(t, d, 0)
	expectRecent(t, "directory atime after a listing", mustStat(t, d).Atim, start)
}
