package fstests

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Cred is who runs a step: a user ID, a primary group and supplementary
// groups. The zero Cred is root with no supplementary groups.
type Cred struct {
	UID    uint32
	GID    uint32
	Groups []uint32
}

// stepTimeout bounds one step: a hung system call fails the check instead
// of hanging the test binary until its global timeout.
const stepTimeout = 2 * time.Minute

// threadOpts say how a step's thread is set up.
type threadOpts struct {
	dirfd      int  // the working directory, by descriptor
	umask      int  // the thread's umask
	cred       Cred // applied after the working directory is set
	ownFiles   bool // give the thread its own descriptor table (a lock owner of its own)
	keepCaller bool // stay root (cred ignored)
}

// onThread runs fn on a fresh OS thread set up as o says and waits (bounded)
// for it. Linux keeps credentials, the working directory, the umask and the
// descriptor table per thread once they are unshared, so a thread of this
// process can act as another user, or as another process holding POSIX
// locks, without a child process: no re-exec, and the whole suite runs
// against any directory from any test binary.
func onThread(o threadOpts, fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if onMainThread() {
			// Hold the main thread, untouched, while another thread
			// does the work, then give it back.
			err := onThread(o, fn)
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		// No UnlockOSThread: the thread's working directory, umask and
		// credentials are its own now, so it must end with this goroutine
		// (the runtime then terminates it) rather than return to the pool
		// and run other goroutines as another user.
		if err := enterThread(o); err != nil {
			errc <- err
			return
		}
		fn()
		errc <- nil
	}()
	select {
	case err := <-errc:
		return err
	case <-time.After(stepTimeout):
		return fmt.Errorf("step still running after %v", stepTimeout)
	}
}

// onMainThread reports whether the calling goroutine, locked to its
// thread, is on the process's main thread. The runtime never ends that
// thread (it parks it when a goroutine locked to it exits), so a changed
// working directory there would keep a mount busy for the life of the
// process: onThread and newLockOwner never change it.
func onMainThread() bool { return unix.Gettid() == unix.Getpid() }

// enterThread unshares the thread's file system context (and descriptor
// table if asked), enters the directory and takes on the credentials. The
// raw system calls matter: the syscall package's Setuid and friends change
// every thread of the process.
func enterThread(o threadOpts) error {
	flags := unix.CLONE_FS
	if o.ownFiles {
		flags |= unix.CLONE_FILES
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	if err := unix.Fchdir(o.dirfd); err != nil {
		return fmt.Errorf("enter the check directory: %w", err)
	}
	unix.Umask(o.umask)
	if o.keepCaller {
		return nil
	}
	c := o.cred
	groups := c.Groups
	if groups == nil {
		groups = []uint32{}
	}
	var p unsafe.Pointer
	if len(groups) > 0 {
		p = unsafe.Pointer(&groups[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(p), 0); e != 0 {
		return fmt.Errorf("setgroups %v: %w", groups, e)
	}
	runtime.KeepAlive(groups)
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(c.GID), uintptr(c.GID), uintptr(c.GID)); e != 0 {
		return fmt.Errorf("setresgid %d: %w", c.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(c.UID), uintptr(c.UID), uintptr(c.UID)); e != 0 {
		return fmt.Errorf("setresuid %d: %w", c.UID, e)
	}
	return nil
}

// lockOwner is a thread with its own descriptor table: to the kernel's
// POSIX record locks it is another process. Functions sent to it run on
// that thread, in order. Stop ends the thread, which closes its
// descriptors and so releases its locks, as a process exit does.
type lockOwner struct {
	work chan func()
	done chan struct{}
}

func newLockOwner(dirfd int) (*lockOwner, error) {
	lo := &lockOwner{work: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go lo.serve(dirfd, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return lo, nil
}

// serve runs the owner's thread: it unshares the descriptor table, reports
// on ready, then runs the functions sent to it until stop.
func (lo *lockOwner) serve(dirfd int, ready chan<- error) {
	runtime.LockOSThread()
	if onMainThread() {
		// Keep the main thread out of it (see onMainThread): a second
		// goroutine cannot land on it while this one holds it.
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			lo.serve(dirfd, ready)
		}()
		<-finished
		runtime.UnlockOSThread()
		return
	}
	// Never unlocked: see onThread.
	defer close(lo.done)
	if err := enterThread(threadOpts{dirfd: dirfd, umask: 0o022, ownFiles: true, keepCaller: true}); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for fn := range lo.work {
		fn()
	}
}

// do runs fn on the owner's thread and waits for it, bounded. A call that
// blocks on purpose (F_SETLKW) goes through start instead.
func (lo *lockOwner) do(fn func()) error {
	done := lo.start(fn)
	select {
	case <-done:
		return nil
	case <-time.After(stepTimeout):
		return fmt.Errorf("lock owner call still running after %v", stepTimeout)
	}
}

// start hands fn to the owner's thread and returns a channel closed when fn
// has run.
func (lo *lockOwner) start(fn func()) <-chan struct{} {
	done := make(chan struct{})
	lo.work <- func() {
		defer close(done)
		fn()
	}
	return done
}

// stop ends the owner's thread and waits for it (bounded).
func (lo *lockOwner) stop() error {
	close(lo.work)
	select {
	case <-lo.done:
		return nil
	case <-time.After(stepTimeout):
		return fmt.Errorf("lock owner did not stop within %v", stepTimeout)
	}
}
