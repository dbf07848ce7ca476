package index

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openGrouped opens an index whose groups commit only when something asks
// (the window is an hour), and a second, read-only connection to its file
// that sees only what is committed: what a crash of syncfs would leave.
func openGrouped(t *testing.T) (*DB, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{Device: "a", GroupWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	disk, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { disk.Close() })
	return db, disk
}

// onDisk reports whether the committed index has the entry name in the
// root directory.
func onDisk(t *testing.T, disk *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := disk.QueryRow("SELECT count(*) FROM dentries WHERE parent=? AND name=?", RootIno, []byte(name)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestGroupSeenByRequestReads(t *testing.T) {
	db, disk := openGrouped(t)
	d := mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o755)
	f := mustCreate(t, db, d.Ino, "f", syscall.S_IFREG|0o644)
	l, err := db.Create(RootIno, "l", NewNode{Mode: syscall.S_IFLNK | 0o777, Target: "d/f"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetXattr(f.Ino, "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if onDisk(t, disk, "d") {
		t.Fatal("the group was committed at once: nothing was grouped")
	}
	if a, err := db.Lookup(d.Ino, "f"); err != nil || a.Ino != f.Ino {
		t.Errorf("Lookup in the open group: %+v, %v", a, err)
	}
	if a, err := db.GetAttr(d.Ino); err != nil || a.Nlink != 2 {
		t.Errorf("GetAttr in the open group: %+v, %v", a, err)
	}
	if ents, err := db.ReadDir(RootIno, 0, 10); err != nil || len(ents) != 2 {
		t.Errorf("ReadDir in the open group: %+v, %v", ents, err)
	}
	if v, err := db.GetXattr(f.Ino, "user.k"); err != nil || string(v) != "v" {
		t.Errorf("GetXattr in the open group: %q, %v", v, err)
	}
	if names, err := db.ListXattr(f.Ino); err != nil || len(names) != 1 {
		t.Errorf("ListXattr in the open group: %q, %v", names, err)
	}
	if s, err := db.Readlink(l.Ino); err != nil || s != "d/f" {
		t.Errorf("Readlink in the open group: %q, %v", s, err)
	}
	if p, err := db.PathOf(f.Ino); err != nil || p != "/d/f" {
		t.Errorf("PathOf in the open group: %q, %v", p, err)
	}
	// A read off the request path commits the group first.
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if !onDisk(t, disk, "d") || !onDisk(t, disk, "l") {
		t.Errorf("Stats read the reader pool without committing the group (stats %+v)", st)
	}
}

func TestGroupFailedChangeUndoesOnlyItself(t *testing.T) {
	db, disk := openGrouped(t)
	mustCreate(t, db, RootIno, "a", syscall.S_IFREG|0o644)
	if _, err := db.Create(RootIno, "a", NewNode{Mode: syscall.S_IFREG | 0o644}); !errors.Is(err, ErrExist) {
		t.Fatalf("second create of a: %v, want ErrExist", err)
	}
	if _, err := db.Create(RootIno, "x/y", NewNode{Mode: syscall.S_IFREG | 0o644}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create of a bad name: %v, want ErrInvalid", err)
	}
	if err := db.Unlink(RootIno, "missing"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("unlink of a missing name: %v, want ErrNotExist", err)
	}
	mustCreate(t, db, RootIno, "b", syscall.S_IFREG|0o644)
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	if !onDisk(t, disk, "a") || !onDisk(t, disk, "b") {
		t.Fatal("a failed change in the group took the others with it")
	}
	problems, err := db.Integrity(t.Context())
	if err != nil || len(problems) > 0 {
		t.Fatalf("integrity: %v %v", problems, err)
	}
	// The failed create left no inode behind: root, a and b.
	var n int
	if err := disk.QueryRow("SELECT count(*) FROM inodes").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d inodes (%v), want 3", n, err)
	}
}

func TestGroupCommitsBeforeLeavingResident(t *testing.T) {
	db, disk := openGrouped(t)
	f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
	sealAll(t, db) // uploaded: Resident
	if a, err := db.GetAttr(f.Ino); err != nil || a.State != StateResident {
		t.Fatalf("after upload: %+v, %v", a, err)
	}
	state := func() State {
		var s State
		if err := disk.QueryRow("SELECT state FROM inodes WHERE ino=?", f.Ino).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	mustCreate(t, db, RootIno, "other", syscall.S_IFREG|0o644) // opens a group
	if _, err := db.Open(f.Ino, true, false); err != nil {
		t.Fatal(err)
	}
	// The cache file is written next: on disk, the file must be Staged
	// already, or a crash would leave it Resident with other content.
	if s := state(); s != StateStaged {
		t.Errorf("after open for writing, the committed state is %s, want Staged", s)
	}
	if err := db.Release(f.Ino, true); err != nil {
		t.Fatal(err)
	}
	sealAll(t, db)
	mustCreate(t, db, RootIno, "g", syscall.S_IFREG|0o644) // opens a group
	size := int64(0)
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Size: &size}); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != StateStaged {
		t.Errorf("after truncate, the committed state is %s, want Staged", s)
	}
}

func TestGroupCommitsAtWindowEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{Device: "a", GroupWindow: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	disk, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	mustCreate(t, db, RootIno, "a", syscall.S_IFREG|0o644)
	deadline := time.Now().Add(10 * time.Second)
	for !onDisk(t, disk, "a") {
		if time.Now().After(deadline) {
			t.Fatal("the group was not committed when its window ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestGroupNeedsFreeSpace(t *testing.T) {
	db, disk := openGrouped(t)
	db.mu.Lock()
	db.statfs = func(path string, st *syscall.Statfs_t) error {
		st.Bsize, st.Bavail = 4096, 100 // 400 KiB free
		return nil
	}
	db.mu.Unlock()
	mustCreate(t, db, RootIno, "a", syscall.S_IFREG|0o644)
	if !onDisk(t, disk, "a") {
		t.Fatal("a change was grouped with the disk nearly full")
	}
}

func TestGroupCommittedByClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{Device: "a", GroupWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, RootIno, "a", syscall.S_IFREG|0o644)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{Device: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Lookup(RootIno, "a"); err != nil {
		t.Fatalf("after close and open: %v", err)
	}
}

func TestLostGroupFailsNextSync(t *testing.T) {
	db, disk := openGrouped(t)
	mustCreate(t, db, RootIno, "kept", syscall.S_IFREG|0o644)
	if err := db.Sync(); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, RootIno, "lost", syscall.S_IFREG|0o644)
	db.mu.Lock()
	db.groupLostLocked(errors.New("disk gone"))
	db.mu.Unlock()
	err := db.Sync()
	if err == nil || !strings.Contains(err.Error(), "lost") {
		t.Fatalf("Sync after a lost group: %v, want an error saying changes were lost", err)
	}
	if err := db.Sync(); err != nil {
		t.Fatalf("second Sync: %v (the loss is reported once)", err)
	}
	if _, err := db.Lookup(RootIno, "lost"); !errors.Is(err, ErrNotExist) {
		t.Errorf("lookup of the lost file: %v, want ErrNotExist", err)
	}
	if !onDisk(t, disk, "kept") || onDisk(t, disk, "lost") {
		t.Error("the committed index is not the one before the lost group")
	}
	// The index goes on working.
	mustCreate(t, db, RootIno, "after", syscall.S_IFREG|0o644)
	if err := db.Sync(); err != nil || !onDisk(t, disk, "after") {
		t.Fatalf("after a lost group: %v", err)
	}
}

// TestWALStaysBounded checks that the WAL starts over while changes keep
// coming: the checkpointer alone, racing a busy writer, never catches up,
// and the writer's own (rarer) checkpoint is what lets it restart.
func TestWALStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 4,000 files")
	}
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{Device: "a"}) // every change its own commit: the most WAL frames
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o755)
	var most int64
	for i := range 4000 {
		if _, err := db.Create(d.Ino, "f"+strconv.Itoa(i), NewNode{Mode: syscall.S_IFREG | 0o644}); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path + "-wal"); err == nil {
			most = max(most, st.Size())
		}
	}
	const frame = 4096 + 24
	// Unbounded, it would pass 30,000 frames; a writer checkpoint that
	// meets the checkpointer at work is put off to a later commit.
	if limit := int64(2*writerCheckpointPages) * frame; most > limit {
		t.Fatalf("the WAL grew to %d bytes (%d frames), past %d", most, most/frame, limit)
	}
	t.Logf("largest WAL: %d frames", most/frame)
}
