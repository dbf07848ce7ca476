package fstests

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Locks checks file locks as processes on one machine see them: flock(2)
// and open file description locks (F_OFD_*) between two opens in one
// process, and POSIX record locks (F_SETLK, F_SETLKW, F_GETLK) between two
// lock owners: conflicts, shared locks, byte ranges, a waiter woken by the
// unlock, and release when the owner closes any descriptor of the file.
func Locks(t *testing.T, dir string) {
	p := join(dir, "file")
	create(t, p, []byte("0123456789"))
	t.Run("flock", func(t *testing.T) { flockCheck(t, p) })
	t.Run("ofd", func(t *testing.T) { ofdCheck(t, p) })
	t.Run("posix", func(t *testing.T) { posixLockCheck(t, dir, "file") })
}

func flock(f *os.File, how int) error {
	return ignoringEINTR(func() error { return unix.Flock(int(f.Fd()), how) })
}

func flockCheck(t *testing.T, p string) {
	f1 := mustOpen(t, p, os.O_RDWR)
	f2 := mustOpen(t, p, os.O_RDONLY)
	if err := flock(f1, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("flock exclusive: %v", err)
	}
	expectErrno(t, "second exclusive flock", flock(f2, unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)
	expectErrno(t, "shared flock under an exclusive one", flock(f2, unix.LOCK_SH|unix.LOCK_NB), unix.EWOULDBLOCK)
	if err := flock(f1, unix.LOCK_SH); err != nil {
		t.Fatalf("downgrade to shared: %v", err)
	}
	if err := flock(f2, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Errorf("two shared flocks: %v", err)
	}
	expectErrno(t, "upgrade while another holds a shared flock", flock(f1, unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK)
	if err := f2.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := flock(f1, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Errorf("exclusive flock after the other holder closed: %v", err)
	}
	if err := flock(f1, unix.LOCK_UN); err != nil {
		t.Errorf("unlock: %v", err)
	}
}

func fcntlLock(fd int, cmd int, typ int16, start, n int64) (unix.Flock_t, error) {
	lk := unix.Flock_t{Type: typ, Whence: unix.SEEK_SET, Start: start, Len: n}
	err := ignoringEINTR(func() error { return unix.FcntlFlock(uintptr(fd), cmd, &lk) })
	return lk, err
}

func ofdCheck(t *testing.T, p string) {
	f1 := mustOpen(t, p, os.O_RDWR)
	f2 := mustOpen(t, p, os.O_RDWR)
	fd1, fd2 := int(f1.Fd()), int(f2.Fd())
	if _, err := fcntlLock(fd1, unix.F_OFD_SETLK, unix.F_WRLCK, 0, 5); err != nil {
		t.Fatalf("F_OFD_SETLK: %v", err)
	}
	lk, err := fcntlLock(fd2, unix.F_OFD_GETLK, unix.F_WRLCK, 0, 10)
	if err != nil || lk.Type != unix.F_WRLCK || lk.Start != 0 || lk.Len != 5 || lk.Pid != -1 {
		t.Errorf("F_OFD_GETLK: %+v %v, want the write lock on [0, 5) held by pid -1", lk, err)
	}
	if _, err := fcntlLock(fd2, unix.F_OFD_SETLK, unix.F_WRLCK, 5, 5); err != nil {
		t.Errorf("F_OFD_SETLK on the next range: %v", err)
	}
	_, err = fcntlLock(fd2, unix.F_OFD_SETLK, unix.F_RDLCK, 4, 2)
	expectErrno(t, "F_OFD_SETLK over a held range", err, unix.EAGAIN)
	if _, err := fcntlLock(fd1, unix.F_OFD_SETLK, unix.F_UNLCK, 0, 0); err != nil {
		t.Errorf("F_OFD_SETLK unlock: %v", err)
	}
	if _, err := fcntlLock(fd2, unix.F_OFD_SETLK, unix.F_WRLCK, 0, 0); err != nil {
		t.Errorf("F_OFD_SETLK after the unlock: %v", err)
	}
}

// posixLockCheck runs the record lock checks with two lock owners: threads
// with descriptor tables of their own, which the kernel treats as two
// processes.
func posixLockCheck(t *testing.T, dir, name string) {
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open directory: %v", err)
	}
	defer unix.Close(dirfd)
	owners := make([]*lockOwner, 2)
	for i := range owners {
		if owners[i], err = newLockOwner(dirfd); err != nil {
			t.Fatalf("lock owner: %v", err)
		}
	}
	defer func() {
		for _, lo := range owners {
			if err := lo.stop(); err != nil {
				t.Error(err)
			}
		}
	}()
	a, b := owners[0], owners[1]
	// on runs f on owner lo and returns its error.
	on := func(lo *lockOwner, f func() error) error {
		var ferr error
		if err := lo.do(func() { ferr = ignoringEINTR(f) }); err != nil {
			t.Fatal(err)
		}
		return ferr
	}
	var afd, afd2, bfd int
	openOn := func(lo *lockOwner, fd *int) {
		if err := on(lo, func() (err error) { *fd, err = unix.Open(name, unix.O_RDWR|unix.O_CLOEXEC, 0); return err }); err != nil {
			t.Fatalf("open: %v", err)
		}
	}
	openOn(a, &afd)
	openOn(b, &bfd)
	lock := func(lo *lockOwner, fd, cmd int, typ int16, start, n int64) (lk unix.Flock_t, err error) {
		err = on(lo, func() (e error) { lk, e = fcntlLock(fd, cmd, typ, start, n); return e })
		return lk, err
	}

	if _, err := lock(a, afd, unix.F_SETLK, unix.F_WRLCK, 0, 5); err != nil {
		t.Fatalf("F_SETLK write [0, 5): %v", err)
	}
	if lk, err := lock(b, bfd, unix.F_GETLK, unix.F_RDLCK, 0, 0); err != nil || lk.Type != unix.F_WRLCK || lk.Start != 0 || lk.Len != 5 {
		t.Errorf("F_GETLK: %+v %v, want the other owner's write lock on [0, 5)", lk, err)
	}
	_, err = lock(b, bfd, unix.F_SETLK, unix.F_RDLCK, 4, 1)
	expectErrno(t, "F_SETLK read over another owner's write lock", err, unix.EAGAIN)
	if _, err := lock(b, bfd, unix.F_SETLK, unix.F_WRLCK, 5, 5); err != nil {
		t.Errorf("F_SETLK on a free range: %v", err)
	}
	if _, err := lock(a, afd, unix.F_SETLK, unix.F_RDLCK, 0, 5); err != nil {
		t.Errorf("downgrade to a read lock: %v", err)
	}
	if _, err := lock(b, bfd, unix.F_SETLK, unix.F_UNLCK, 5, 5); err != nil {
		t.Errorf("unlock: %v", err)
	}
	if _, err := lock(b, bfd, unix.F_SETLK, unix.F_RDLCK, 0, 5); err != nil {
		t.Errorf("two read locks: %v", err)
	}
	if _, err := lock(b, bfd, unix.F_SETLK, unix.F_UNLCK, 0, 0); err != nil {
		t.Errorf("unlock: %v", err)
	}

	// A waiter blocks until the holder unlocks.
	if _, err := lock(a, afd, unix.F_SETLK, unix.F_WRLCK, 0, 0); err != nil {
		t.Fatalf("F_SETLK whole file: %v", err)
	}
	var werr error
	waited := b.start(func() { _, werr = fcntlLock(bfd, unix.F_SETLKW, unix.F_WRLCK, 0, 0) })
	select {
	case <-waited:
		t.Fatalf("F_SETLKW returned (%v) while another owner held the lock", werr)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := lock(a, afd, unix.F_SETLK, unix.F_UNLCK, 0, 0); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	select {
	case <-waited:
		if werr != nil {
			t.Errorf("F_SETLKW: %v", werr)
		}
	case <-time.After(stepTimeout):
		t.Fatalf("F_SETLKW still waiting %v after the unlock", stepTimeout)
	}
	_, err = lock(a, afd, unix.F_SETLK, unix.F_RDLCK, 0, 1)
	expectErrno(t, "F_SETLK after the waiter got the lock", err, unix.EAGAIN)
	if _, err := lock(b, bfd, unix.F_SETLK, unix.F_UNLCK, 0, 0); err != nil {
		t.Fatalf("unlock: %v", err)
	}

	// Closing any descriptor of the file drops all of the owner's locks.
	if _, err := lock(a, afd, unix.F_SETLK, unix.F_WRLCK, 0, 0); err != nil {
		t.Fatalf("F_SETLK: %v", err)
	}
	openOn(a, &afd2)
	if err := on(a, func() error { return unix.Close(afd2) }); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := lock(b, bfd, unix.F_SETLK, unix.F_WRLCK, 0, 0); err != nil {
		t.Errorf("F_SETLK after the holder closed another descriptor of the file: %v", err)
	}
	for _, c := range []struct {
		lo *lockOwner
		fd int
	}{{a, afd}, {b, bfd}} {
		if err := on(c.lo, func() error { return unix.Close(c.fd) }); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}
