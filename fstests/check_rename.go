package fstests

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// RenameFileOverFile checks that renaming a file over another replaces it
// atomically: the old name is gone, the new name is the moved inode with its
// content, and a descriptor open on the replaced file still reads it, with
// zero links. Renaming a name onto itself, or onto another link of the same
// inode, changes nothing.
func RenameFileOverFile(t *testing.T, dir string) {
	a, b := join(dir, "a"), join(dir, "b")
	create(t, a, []byte("content of a"))
	create(t, b, []byte("content of b"))
	moved := mustLstat(t, a)
	held := mustOpen(t, b, os.O_RDONLY)

	if err := rename(a, b); err != nil {
		t.Fatalf("rename a over b: %v", err)
	}
	expectMissing(t, a)
	expectNames(t, dir, 0, "b")
	st := mustLstat(t, b)
	if st.Ino != moved.Ino || st.Nlink != 1 {
		t.Errorf("b after rename: inode %d links %d, want inode %d (a's), 1 link", st.Ino, st.Nlink, moved.Ino)
	}
	expectBytes(t, "b after rename", readFile(t, b), []byte("content of a"))
	if st := mustFstat(t, held); st.Nlink != 0 {
		t.Errorf("replaced file's link count: got %d, want 0", st.Nlink)
	}
	expectBytes(t, "replaced file through its open descriptor", readAt(t, held, 0, 100), []byte("content of b"))

	if err := rename(b, b); err != nil {
		t.Errorf("rename onto itself: %v", err)
	}
	if err := link(b, join(dir, "c")); err != nil {
		t.Fatalf("link: %v", err)
	}
	if err := rename(b, join(dir, "c")); err != nil {
		t.Errorf("rename onto another link of the same file: %v", err)
	}
	// POSIX: when both names are links to one file, rename does nothing.
	expectNames(t, dir, 0, "b", "c")
	expectNlink(t, b, 2)
}

// RenameAcrossDirs checks moves between directories: a moved directory
// changes both parents' link counts and its ".." follows it; a moved file
// keeps its inode and content; a move may replace a file in the target.
func RenameAcrossDirs(t *testing.T, dir string) {
	d1, d2 := join(dir, "d1"), join(dir, "d2")
	mustMkdir(t, d1)
	mustMkdir(t, d2)
	mustMkdir(t, join(d1, "sub"))
	create(t, join(d1, "sub", "inner"), []byte("inner"))
	create(t, join(d1, "f"), []byte("file f"))
	create(t, join(d1, "g"), []byte("file g"))
	create(t, join(d2, "g"), []byte("old g"))
	expectNlink(t, d1, 3)
	expectNlink(t, d2, 2)
	fIno := mustLstat(t, join(d1, "f")).Ino

	if err := rename(join(d1, "sub"), join(d2, "sub")); err != nil {
		t.Fatalf("move a directory: %v", err)
	}
	expectNlink(t, d1, 2)
	expectNlink(t, d2, 3)
	expectBytes(t, "file inside the moved directory", readFile(t, join(d2, "sub", "inner")), []byte("inner"))
	if dotdot, parent := mustStat(t, join(d2, "sub", "..")), mustStat(t, d2); dotdot.Ino != parent.Ino {
		t.Errorf("moved directory's ..: inode %d, want the new parent's %d", dotdot.Ino, parent.Ino)
	}

	if err := rename(join(d1, "f"), join(d2, "f")); err != nil {
		t.Fatalf("move a file: %v", err)
	}
	if st := mustLstat(t, join(d2, "f")); st.Ino != fIno {
		t.Errorf("moved file's inode: got %d, want %d", st.Ino, fIno)
	}
	expectBytes(t, "moved file", readFile(t, join(d2, "f")), []byte("file f"))

	if err := rename(join(d1, "g"), join(d2, "g")); err != nil {
		t.Fatalf("move a file over another: %v", err)
	}
	expectBytes(t, "file moved over another", readFile(t, join(d2, "g")), []byte("file g"))
	expectNames(t, d1, 0)
	expectNames(t, d2, 0, "sub", "f", "g")
	expectNlink(t, d1, 2)
	expectNlink(t, d2, 3)
}

// RenameDirOverDir checks that a directory may replace an empty directory,
// taking its name and its place in the parent's link count.
func RenameDirOverDir(t *testing.T, dir string) {
	src, dst := join(dir, "src"), join(dir, "dst")
	mustMkdir(t, src)
	mustMkdir(t, dst)
	create(t, join(src, "f"), []byte("f"))
	before := mustLstat(t, dir)
	srcIno := mustLstat(t, src).Ino
	if err := rename(src, dst); err != nil {
		t.Fatalf("rename a directory over an empty one: %v", err)
	}
	expectMissing(t, src)
	if st := mustLstat(t, dst); st.Ino != srcIno {
		t.Errorf("target inode: got %d, want the moved directory's %d", st.Ino, srcIno)
	}
	expectNames(t, dst, 0, "f")
	expectNlink(t, dir, uint64(before.Nlink)-1)
}

// RenameErrors checks the errors rename gives where ext4 gives them.
func RenameErrors(t *testing.T, dir string) {
	d, full, file := join(dir, "d"), join(dir, "full"), join(dir, "file")
	mustMkdir(t, d)
	mustMkdir(t, full)
	create(t, join(full, "x"), nil)
	create(t, file, []byte("file"))

	expectErrno(t, "rename a missing name", rename(join(dir, "missing"), join(dir, "new")), unix.ENOENT)
	expectErrno(t, "rename into a missing directory", rename(file, join(dir, "missing", "file")), unix.ENOENT)
	expectErrno(t, "rename a directory over a non-empty one", rename(d, full), unix.ENOTEMPTY)
	expectErrno(t, "rename a directory over a file", rename(d, file), unix.ENOTDIR)
	expectErrno(t, "rename a file over a directory", rename(file, d), unix.EISDIR)
	expectErrno(t, "rename a directory into itself", rename(d, join(d, "inside")), unix.EINVAL)
	mustMkdir(t, join(d, "child"))
	expectErrno(t, "rename a directory into its child", rename(d, join(d, "child", "inside")), unix.EINVAL)
	expectErrno(t, "rename through a file", rename(join(file, "x"), join(dir, "y")), unix.ENOTDIR)

	expectNames(t, dir, 0, "d", "full", "file")
	expectNames(t, full, 0, "x")
	expectNames(t, d, 0, "child")
	expectBytes(t, "file after failed renames", readFile(t, file), []byte("file"))
}
