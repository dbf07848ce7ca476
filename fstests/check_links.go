package fstests

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// SymlinkReadlink checks that a symlink keeps its target byte for byte
// (relative, absolute, dangling, long), that lstat sees the link (mode 0777,
// size the target's length) and stat and open follow it, and the errors
// symlink and readlink give.
func SymlinkReadlink(t *testing.T, dir string) {
	target := join(dir, "target")
	create(t, target, []byte("target content"))
	links := map[string]string{
		"relative": "target",
		"absolute": target,
		"dangling": "does/not/exist",
		"dotdot":   "../x",
		"long":     strings.Repeat("long/", 200) + "end",
	}
	for name, to := range links {
		if err := os.Symlink(to, join(dir, name)); err != nil {
			t.Fatalf("symlink %s: %v", name, err)
		}
	}
	for name, to := range links {
		p := join(dir, name)
		got, err := os.Readlink(p)
		if err != nil {
			t.Errorf("readlink %s: %v", name, err)
		} else if got != to {
			t.Errorf("readlink %s: got %q, want %q", name, got, to)
		}
		st := mustLstat(t, p)
		if fileType(st.Mode) != unix.S_IFLNK || st.Mode&0o7777 != 0o777 || st.Size != int64(len(to)) || st.Nlink != 1 {
			t.Errorf("lstat %s: mode %#o size %d links %d, want symlink 0777, %d, 1", name, st.Mode, st.Size, st.Nlink, len(to))
		}
	}
	for _, name := range []string{"relative", "absolute"} {
		st := mustStat(t, join(dir, name))
		if fileType(st.Mode) != unix.S_IFREG || st.Size != 14 {
			t.Errorf("stat through %s: type %#o size %d, want a regular file of 14 bytes", name, fileType(st.Mode), st.Size)
		}
		expectBytes(t, "read through "+name, readFile(t, join(dir, name)), []byte("target content"))
	}
	_, err := statErr(join(dir, "dangling"))
	expectErrno(t, "stat through a dangling symlink", err, unix.ENOENT)

	expectErrno(t, "symlink over a symlink", os.Symlink("x", join(dir, "relative")), unix.EEXIST)
	expectErrno(t, "symlink over a file", os.Symlink("x", target), unix.EEXIST)
	_, err = os.Readlink(target)
	expectErrno(t, "readlink a regular file", err, unix.EINVAL)
	_, err = os.Readlink(join(dir, "missing"))
	expectErrno(t, "readlink a missing name", err, unix.ENOENT)

	if err := unlink(join(dir, "relative")); err != nil {
		t.Fatalf("unlink a symlink: %v", err)
	}
	expectMissing(t, join(dir, "relative"))
	expectBytes(t, "target after its symlink is removed", readFile(t, target), []byte("target content"))
}

// HardLinks checks that link makes a second name for the same inode (one
// content, a link count that follows link and unlink), and the errors link
// gives for a taken name, a missing source and a directory.
func HardLinks(t *testing.T, dir string) {
	a, b, c := join(dir, "a"), join(dir, "b"), join(dir, "c")
	create(t, a, []byte("shared"))
	if err := link(a, b); err != nil {
		t.Fatalf("link: %v", err)
	}
	sa, sb := mustLstat(t, a), mustLstat(t, b)
	if sa.Ino != sb.Ino || sa.Nlink != 2 || sb.Nlink != 2 {
		t.Errorf("after link: inodes %d, %d links %d, %d; want one inode, 2 links", sa.Ino, sb.Ino, sa.Nlink, sb.Nlink)
	}
	wb := mustOpen(t, b, os.O_WRONLY)
	writeAt(t, wb, 0, []byte("S"))
	expectBytes(t, "write through one name read through the other", readFile(t, a), []byte("Shared"))

	if err := link(a, c); err != nil {
		t.Fatalf("second link: %v", err)
	}
	expectNlink(t, b, 3)
	if err := unlink(a); err != nil {
		t.Fatalf("unlink the first name: %v", err)
	}
	expectMissing(t, a)
	expectNlink(t, b, 2)
	expectNlink(t, c, 2)
	if err := unlink(b); err != nil {
		t.Fatalf("unlink the second name: %v", err)
	}
	expectNlink(t, c, 1)
	expectBytes(t, "last name", readFile(t, c), []byte("Shared"))
	if st := mustFstat(t, wb); st.Nlink != 1 {
		t.Errorf("link count through an open descriptor: got %d, want 1", st.Nlink)
	}

	create(t, a, nil)
	mustMkdir(t, join(dir, "d"))
	expectErrno(t, "link onto a taken name", link(c, a), unix.EEXIST)
	expectErrno(t, "link a missing name", link(join(dir, "missing"), join(dir, "new")), unix.ENOENT)
	expectErrno(t, "link a directory", link(join(dir, "d"), join(dir, "dlink")), unix.EPERM)
	expectErrno(t, "link into a missing directory", link(c, join(dir, "missing", "c")), unix.ENOENT)
	expectNlink(t, join(dir, "d"), 2)
	expectNames(t, dir, 0, "a", "c", "d")
}
