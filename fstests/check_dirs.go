package fstests

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// MkdirReaddir checks that readdir lists exactly the entries made (odd names
// included, no "." or "..", no duplicates), with the right types, and the
// errors mkdir gives for a taken name, a missing parent and a file parent.
func MkdirReaddir(t *testing.T, dir string) {
	d := join(dir, "d")
	mustMkdir(t, d)
	if st := mustStat(t, d); fileType(st.Mode) != unix.S_IFDIR {
		t.Errorf("mkdir made type %#o, want a directory", fileType(st.Mode))
	}
	expectNames(t, d, 0)

	files := []string{"plain", "with space", "ünïcödé-名前", ".hidden", "-dash", "tab\there", strings.Repeat("n", 255)}
	dirs := []string{"sub", "sub.two"}
	for _, name := range files {
		create(t, join(d, name), nil)
	}
	for _, name := range dirs {
		mustMkdir(t, join(d, name))
	}
	if err := os.Symlink("plain", join(d, "link")); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	all := append(append(append([]string{}, files...), dirs...), "link")
	expectNames(t, d, 0, all...)

	entries, err := os.ReadDir(d)
	if err != nil {
		t.Fatalf("read directory: %v", err)
	}
	for _, e := range entries {
		want := fs.FileMode(0)
		switch {
		case e.Name() == "link":
			want = fs.ModeSymlink
		case strings.HasPrefix(e.Name(), "sub"):
			want = fs.ModeDir
		}
		if e.Type() != want {
			t.Errorf("readdir type of %q: got %v, want %v", e.Name(), e.Type(), want)
		}
	}

	expectErrno(t, "mkdir over a directory", os.Mkdir(join(d, "sub"), 0o755), unix.EEXIST)
	expectErrno(t, "mkdir over a file", os.Mkdir(join(d, "plain"), 0o755), unix.EEXIST)
	expectErrno(t, "mkdir over a symlink", os.Mkdir(join(d, "link"), 0o755), unix.EEXIST)
	expectErrno(t, "mkdir in a missing directory", os.Mkdir(join(d, "missing", "x"), 0o755), unix.ENOENT)
	expectErrno(t, "mkdir under a file", os.Mkdir(join(d, "plain", "x"), 0o755), unix.ENOTDIR)

	for _, name := range files[:3] {
		if err := unlink(join(d, name)); err != nil {
			t.Fatalf("unlink %q: %v", name, err)
		}
	}
	expectNames(t, d, 0, all[3:]...)
}

// ManyFilesReaddir checks that a directory of 1,000 files lists each exactly
// once, read whole and in small batches (which exercises readdir's resume
// offsets), and again after every other file is removed.
func ManyFilesReaddir(t *testing.T, dir string) {
	const n = 1000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("file-%04d", i)
		create(t, join(dir, names[i]), nil)
	}
	expectNames(t, dir, 0, names...)
	expectNames(t, dir, 97, names...)

	var kept []string
	for i, name := range names {
		if i%2 == 0 {
			kept = append(kept, name)
			continue
		}
		if err := unlink(join(dir, name)); err != nil {
			t.Fatalf("unlink %s: %v", name, err)
		}
	}
	expectNames(t, dir, 0, kept...)
	expectNames(t, dir, 33, kept...)
}

// StatLinkCounts checks link counts as ext4 gives them: 1 for a file, 2 plus
// the number of subdirectories for a directory (files and symlinks do not
// count), and the sizes stat reports for files.
func StatLinkCounts(t *testing.T, dir string) {
	top := mustLstat(t, dir)
	f := join(dir, "file")
	create(t, f, []byte("0123456789"))
	expectNlink(t, f, 1)
	expectSize(t, f, 10)

	d := join(dir, "d")
	mustMkdir(t, d)
	expectNlink(t, d, 2)
	expectNlink(t, dir, uint64(top.Nlink)+1)
	for _, name := range []string{"a", "b", "c"} {
		mustMkdir(t, join(d, name))
	}
	expectNlink(t, d, 5)
	create(t, join(d, "file"), nil)
	if err := os.Symlink("file", join(d, "link")); err != nil {
		t.Fatalf("symlink: %v", err)
	}
	expectNlink(t, d, 5)
	mustMkdir(t, join(d, "a", "x"))
	expectNlink(t, join(d, "a"), 3)
	expectNlink(t, d, 5)
	if err := rmdir(join(d, "b")); err != nil {
		t.Fatalf("rmdir: %v", err)
	}
	expectNlink(t, d, 4)
	if st := mustLstat(t, join(d, "file")); st.Nlink != 1 || st.Size != 0 {
		t.Errorf("empty file: links %d size %d, want 1, 0", st.Nlink, st.Size)
	}
}

// Rmdir checks that rmdir removes an empty directory (and its link from the
// parent) and gives ENOTEMPTY, ENOTDIR and ENOENT where ext4 does.
func Rmdir(t *testing.T, dir string) {
	d := join(dir, "d")
	mustMkdir(t, d)
	mustMkdir(t, join(d, "sub"))
	create(t, join(dir, "file"), nil)
	expectNlink(t, d, 3)

	expectErrno(t, "rmdir a directory holding a directory", rmdir(d), unix.ENOTEMPTY)
	if err := rmdir(join(d, "sub")); err != nil {
		t.Fatalf("rmdir empty subdirectory: %v", err)
	}
	expectNlink(t, d, 2)
	create(t, join(d, "f"), nil)
	expectErrno(t, "rmdir a directory holding a file", rmdir(d), unix.ENOTEMPTY)
	if err := unlink(join(d, "f")); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	expectErrno(t, "rmdir a file", rmdir(join(dir, "file")), unix.ENOTDIR)
	expectErrno(t, "rmdir a missing name", rmdir(join(dir, "missing")), unix.ENOENT)
	expectErrno(t, "rmdir through a file", rmdir(join(dir, "file", "x")), unix.ENOTDIR)

	before := mustLstat(t, dir)
	if err := rmdir(d); err != nil {
		t.Fatalf("rmdir an empty directory: %v", err)
	}
	expectMissing(t, d)
	expectNlink(t, dir, uint64(before.Nlink)-1)
	expectNames(t, dir, 0, "file")
}

// Unlink checks that unlink removes a name, and gives ENOENT for a missing
// one and EISDIR for a directory, as Linux does.
func Unlink(t *testing.T, dir string) {
	p := join(dir, "file")
	create(t, p, []byte("x"))
	mustMkdir(t, join(dir, "d"))
	if err := unlink(p); err != nil {
		t.Fatalf("unlink: %v", err)
	}
	expectMissing(t, p)
	expectNames(t, dir, 0, "d")
	expectErrno(t, "unlink it again", unlink(p), unix.ENOENT)
	expectErrno(t, "unlink a directory", unlink(join(dir, "d")), unix.EISDIR)
	expectErrno(t, "unlink in a missing directory", unlink(join(dir, "missing", "x")), unix.ENOENT)
	expectNlink(t, join(dir, "d"), 2)
}

// NameTooLong checks that 255 bytes is the longest name, as on ext4, so
// that whatever a mount accepts can also be written on the device that
// syncs it.
func NameTooLong(t *testing.T, dir string) {
	long := strings.Repeat("x", 256)
	_, err := os.OpenFile(join(dir, long), os.O_CREATE|os.O_WRONLY, 0o644)
	expectErrno(t, "create a 256-byte name", err, unix.ENAMETOOLONG)
	expectErrno(t, "mkdir a 256-byte name", os.Mkdir(join(dir, long), 0o755), unix.ENAMETOOLONG)
	expectErrno(t, "symlink at a 256-byte name", os.Symlink("t", join(dir, long)), unix.ENAMETOOLONG)
	create(t, join(dir, "f"), nil)
	expectErrno(t, "rename to a 256-byte name", os.Rename(join(dir, "f"), join(dir, long)), unix.ENAMETOOLONG)
	_, err = lstatErr(join(dir, long))
	expectErrno(t, "lstat a 256-byte name", err, unix.ENAMETOOLONG)
	expectNames(t, dir, 0, "f")
}
