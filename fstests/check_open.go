package fstests

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// OpenErrors checks the errors open gives for a missing name, a missing
// parent, a path through a file, a directory opened for writing and a file
// opened as a directory.
func OpenErrors(t *testing.T, dir string) {
	file := join(dir, "file")
	create(t, file, []byte("x"))
	open := func(path string, flag int) error {
		f, err := os.OpenFile(path, flag, 0o644)
		if err == nil {
			_ = f.Close()
		}
		return err
	}
	expectErrno(t, "open a missing name", open(join(dir, "missing"), os.O_RDONLY), unix.ENOENT)
	expectErrno(t, "create in a missing directory", open(join(dir, "missing", "x"), os.O_CREATE|os.O_WRONLY), unix.ENOENT)
	expectErrno(t, "open a path through a file", open(join(file, "x"), os.O_RDONLY), unix.ENOTDIR)
	expectErrno(t, "create a path through a file", open(join(file, "x"), os.O_CREATE|os.O_WRONLY), unix.ENOTDIR)
	expectErrno(t, "open a directory for writing", open(dir, os.O_WRONLY), unix.EISDIR)
	expectErrno(t, "open a directory for reading and writing", open(dir, os.O_RDWR), unix.EISDIR)
	expectErrno(t, "open a file with O_DIRECTORY", open(file, os.O_RDONLY|unix.O_DIRECTORY), unix.ENOTDIR)
	expectErrno(t, "open a dangling symlink", func() error {
		if err := os.Symlink("missing", join(dir, "dangling")); err != nil {
			t.Fatalf("symlink: %v", err)
		}
		return open(join(dir, "dangling"), os.O_RDONLY)
	}(), unix.ENOENT)
	expectErrno(t, "open a symlink with O_NOFOLLOW", open(join(dir, "dangling"), os.O_RDONLY|unix.O_NOFOLLOW), unix.ELOOP)
	expectNames(t, dir, 0, "file", "dangling")
}

// OpenExcl checks that O_CREAT|O_EXCL fails with EEXIST on any existing name
// (file, directory, even a dangling symlink), that O_CREAT alone opens an
// existing file without truncating it, and that O_TRUNC does truncate it.
func OpenExcl(t *testing.T, dir string) {
	file := join(dir, "file")
	create(t, file, []byte("keep me"))
	mustMkdir(t, join(dir, "d"))
	if err := os.Symlink("missing", join(dir, "dangling")); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	for _, name := range []string{"file", "d", "dangling"} {
		f, err := os.OpenFile(join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			_ = f.Close()
		}
		expectErrno(t, "O_EXCL create over "+name, err, unix.EEXIST)
	}
	expectMissing(t, join(dir, "missing"))
	expectBytes(t, "file after a failed O_EXCL", readFile(t, file), []byte("keep me"))

	f := mustOpen(t, file, os.O_CREATE|os.O_WRONLY)
	if st := mustFstat(t, f); st.Size != 7 {
		t.Errorf("size after O_CREAT on an existing file: got %d, want 7", st.Size)
	}
	f = mustOpen(t, file, os.O_WRONLY|os.O_TRUNC)
	if st := mustFstat(t, f); st.Size != 0 {
		t.Errorf("size after O_TRUNC: got %d, want 0", st.Size)
	}
	create(t, join(dir, "new"), []byte("new"))
	expectBytes(t, "file made with O_EXCL", readFile(t, join(dir, "new")), []byte("new"))
}
