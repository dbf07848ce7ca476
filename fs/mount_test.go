package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/fstests"
	"github.com/syncfs/syncfs/index"
)

// mountTest mounts a fresh index and cache (no store: everything stays
// Staged) and unmounts on cleanup, even when the test fails.
func mountTest(t *testing.T) (string, *index.DB) {
	t.Helper()
	mnt, idx, _ := mountWith(t, nil)
	return mnt, idx
}

// mountWith is mountTest with the adapter's options changed by edit (if
// not nil), returning the adapter too.
func mountWith(t *testing.T, edit func(*Options)) (string, *index.DB, *FS) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Fatalf("no /dev/fuse: %v", err)
	}
	dir := t.TempDir()
	idx, err := index.Open(filepath.Join(dir, "index.db"), index.Options{Device: "test", RootMode: 0o777, GroupWindow: index.DefaultGroupWindow})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(filepath.Join(dir, "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The timeouts syncfs mount uses, so that the suite sees its caching.
	opts := Options{EntryTimeout: time.Second, AttrTimeout: time.Second, NegativeTimeout: time.Second, CacheDir: dir}
	if edit != nil {
		edit(&opts)
	}
	fsys := New(idx, c, opts)
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := Mount(mnt, fsys, MountOptions{FsName: "syncfs-test", AllowOther: true})
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- srv.Unmount() }()
		select {
		case err := <-done:
			if err != nil {
				// Still busy (a check left a file open): abort the
				// connection, or this process would hang at exit flushing
				// files to a server that is itself.
				t.Errorf("unmount: %v; aborting the connection", err)
				abortConnection(st.Dev)
				syscall.Unmount(mnt, syscall.MNT_DETACH)
			}
		case <-time.After(20 * time.Second):
			abortConnection(st.Dev)
			syscall.Unmount(mnt, syscall.MNT_DETACH)
			t.Errorf("unmount timed out; aborted")
		}
		fsys.Close()
		idx.Close()
	})
	return mnt, idx, fsys
}

func TestMountConformance(t *testing.T) {
	mnt, idx := mountTest(t)
	fstests.RunAll(t, fstests.Subdirs(mnt))
	problems, err := idx.Integrity(t.Context())
	if err != nil || len(problems) > 0 {
		t.Fatalf("index integrity after the suite: %v %v", problems, err)
	}
}

func TestStateXattr(t *testing.T) {
	mnt, _ := mountTest(t)
	p := filepath.Join(mnt, "f")
	if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := syscall.Getxattr(p, StateXattr, buf)
	if err != nil || string(buf[:n]) != "staged" {
		t.Fatalf("getxattr: %q %v", buf[:n], err)
	}
	n, err = syscall.Listxattr(p, buf)
	if err != nil || n != 0 {
		t.Fatalf("listxattr shows %q %v", buf[:n], err)
	}
	if err := syscall.Setxattr(p, StateXattr, []byte("resident"), 0); err != syscall.EPERM {
		t.Fatalf("setxattr state: %v, want EPERM", err)
	}
	if err := syscall.Setxattr(p, "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	n, err = syscall.Listxattr(p, buf)
	if err != nil || string(buf[:n]) != "user.k\x00" {
		t.Fatalf("listxattr: %q %v", buf[:n], err)
	}
}

// abortConnection aborts the FUSE connection of device dev through fusectl,
// mounting fusectl if needed, so that no request can hang.
func abortConnection(dev uint64) {
	const ctl = "/sys/fs/fuse/connections"
	if _, err := os.Stat(filepath.Join(ctl, "x")); err != nil {
		syscall.Mount("fusectl", ctl, "fusectl", 0, "")
	}
	minor := (dev & 0xff) | ((dev >> 12) & 0xfff00)
	os.WriteFile(filepath.Join(ctl, fmt.Sprint(minor), "abort"), []byte("1"), 0)
}
