package fstests

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ChmodModes checks that chmod and fchmod set exactly the mode bits asked
// for, the set-ID and sticky bits included, on files and directories, and
// leave the file type alone.
func ChmodModes(t *testing.T, dir string) {
	p := join(dir, "file")
	create(t, p, []byte("x"))
	for _, mode := range []uint32{0o644, 0o600, 0o755, 0o700, 0o444, 0o000, 0o777, 0o4755, 0o2755, 0o1644, 0o6711} {
		if err := ignoringEINTR(func() error { return unix.Chmod(p, mode) }); err != nil {
			t.Fatalf("chmod %#o: %v", mode, err)
		}
		if st := mustStat(t, p); st.Mode&0o7777 != mode || fileType(st.Mode) != unix.S_IFREG {
			t.Errorf("after chmod %#o: mode %#o, want a regular file with %#o", mode, st.Mode, mode)
		}
	}

	f := mustOpen(t, p, os.O_RDONLY)
	for _, mode := range []uint32{0o640, 0o4700} {
		if err := ignoringEINTR(func() error { return unix.Fchmod(int(f.Fd()), mode) }); err != nil {
			t.Fatalf("fchmod %#o: %v", mode, err)
		}
		if st := mustFstat(t, f); st.Mode&0o7777 != mode {
			t.Errorf("after fchmod %#o: fstat mode %#o", mode, st.Mode&0o7777)
		}
		if st := mustStat(t, p); st.Mode&0o7777 != mode {
			t.Errorf("after fchmod %#o: stat mode %#o", mode, st.Mode&0o7777)
		}
	}

	d := join(dir, "d")
	mustMkdir(t, d)
	for _, mode := range []uint32{0o700, 0o1777, 0o2775, 0o555, 0o755} {
		if err := ignoringEINTR(func() error { return unix.Chmod(d, mode) }); err != nil {
			t.Fatalf("chmod directory %#o: %v", mode, err)
		}
		if st := mustStat(t, d); st.Mode&0o7777 != mode || fileType(st.Mode) != unix.S_IFDIR {
			t.Errorf("after chmod directory %#o: mode %#o, want a directory with %#o", mode, st.Mode, mode)
		}
	}
	expectErrno(t, "chmod a missing name", ignoringEINTR(func() error { return unix.Chmod(join(dir, "missing"), 0o644) }), unix.ENOENT)
	expectBytes(t, "content after chmods", readFile(t, p), []byte("x"))
}

// UtimesNano checks that utimensat sets access and modification times
// exactly, to the nanosecond, on a file, a directory and a symlink itself;
// that UTIME_OMIT leaves a time alone and UTIME_NOW takes the clock; and that
// reading a file does not change its modification time.
func UtimesNano(t *testing.T, dir string) {
	atime := time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)
	mtime := time.Date(1999, 12, 31, 23, 59, 59, 987654321, time.UTC)
	p := join(dir, "file")
	create(t, p, []byte("content"))
	d := join(dir, "d")
	mustMkdir(t, d)

	for _, path := range []string{p, d} {
		if err := utimes(path, []unix.Timespec{timespec(atime), timespec(mtime)}, 0); err != nil {
			t.Fatalf("utimensat %s: %v", path, err)
		}
		st := mustStat(t, path)
		if !sameTime(st.Atim, atime) || !sameTime(st.Mtim, mtime) {
			t.Errorf("times of %s: atime %s mtime %s, want %s and %s", path, tsString(st.Atim), tsString(st.Mtim),
				atime.Format(time.RFC3339Nano), mtime.Format(time.RFC3339Nano))
		}
	}

	readFile(t, p)
	if st := mustStat(t, p); !sameTime(st.Mtim, mtime) {
		t.Errorf("mtime after a read: got %s, want it unchanged", tsString(st.Mtim))
	}

	mtime2 := time.Date(2020, 6, 7, 8, 9, 10, 1, time.UTC)
	omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
	if err := utimes(p, []unix.Timespec{omit, timespec(mtime2)}, 0); err != nil {
		t.Fatalf("utimensat with UTIME_OMIT: %v", err)
	}
	before := mustStat(t, p)
	if !sameTime(before.Mtim, mtime2) {
		t.Errorf("mtime after setting it alone: got %s, want %s", tsString(before.Mtim), mtime2.Format(time.RFC3339Nano))
	}

	start := time.Now()
	now := unix.Timespec{Nsec: unix.UTIME_NOW}
	if err := utimes(p, []unix.Timespec{now, now}, 0); err != nil {
		t.Fatalf("utimensat with UTIME_NOW: %v", err)
	}
	st := mustStat(t, p)
	expectRecent(t, "atime after UTIME_NOW", st.Atim, start)
	expectRecent(t, "mtime after UTIME_NOW", st.Mtim, start)

	l := join(dir, "link")
	if err := os.Symlink("file", l); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	target := mustStat(t, p)
	if err := utimes(l, []unix.Timespec{timespec(atime), timespec(mtime)}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatalf("utimensat a symlink itself: %v", err)
	}
	if st := mustLstat(t, l); !sameTime(st.Mtim, mtime) || !sameTime(st.Atim, atime) {
		t.Errorf("symlink times: atime %s mtime %s, want %s and %s", tsString(st.Atim), tsString(st.Mtim),
			atime.Format(time.RFC3339Nano), mtime.Format(time.RFC3339Nano))
	}
	if st := mustStat(t, p); st.Mtim != target.Mtim {
		t.Errorf("setting a symlink's times changed its target's mtime to %s", tsString(st.Mtim))
	}
}

// MtimeUpdates checks that writing or truncating a file moves its mtime and
// ctime to now, and that adding, removing or renaming an entry does the same
// to the directory: make, rsync and backup tools rely on both.
func MtimeUpdates(t *testing.T, dir string) {
	past := []unix.Timespec{timespec(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), timespec(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))}
	setPast := func(path string) {
		t.Helper()
		if err := utimes(path, past, 0); err != nil {
			t.Fatalf("utimensat %s: %v", path, err)
		}
	}
	p := join(dir, "file")
	create(t, p, []byte("x"))

	setPast(p)
	start := time.Now()
	f := mustOpen(t, p, os.O_WRONLY)
	writeAt(t, f, 1, []byte("more"))
	if err := f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	st := mustStat(t, p)
	expectRecent(t, "file mtime after write", st.Mtim, start)
	expectRecent(t, "file ctime after write", st.Ctim, start)

	setPast(p)
	start = time.Now()
	if err := os.Truncate(p, 2); err != nil {
		t.Fatalf("truncate: %v", err)
	}
	st = mustStat(t, p)
	expectRecent(t, "file mtime after truncate", st.Mtim, start)

	steps := []struct {
		what string
		do   func() error
	}{
		{"create", func() error { return os.WriteFile(join(dir, "new"), nil, 0o644) }},
		{"mkdir", func() error { return os.Mkdir(join(dir, "sub"), 0o755) }},
		{"rename", func() error { return rename(join(dir, "new"), join(dir, "renamed")) }},
		{"unlink", func() error { return unlink(join(dir, "renamed")) }},
		{"rmdir", func() error { return rmdir(join(dir, "sub")) }},
	}
	for _, step := range steps {
		setPast(dir)
		start := time.Now()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		st := mustStat(t, dir)
		expectRecent(t, "directory mtime after "+step.what, st.Mtim, start)
		expectRecent(t, "directory ctime after "+step.what, st.Ctim, start)
	}
}

// expectRecent fails the test unless ts lies between start and now, with a
// second's slack for the kernel's coarse clock and a daemon's own clock.
func expectRecent(t *testing.T, what string, ts unix.Timespec, start time.Time) {
	t.Helper()
	got := time.Unix(int64(ts.Sec), int64(ts.Nsec))
	if got.Before(start.Add(-time.Second)) || got.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: %s, want about %s", what, got.UTC().Format(time.RFC3339Nano), start.UTC().Format(time.RFC3339Nano))
	}
}
