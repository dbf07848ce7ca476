package index

import (
	"syscall"
	"testing"
)

// rowAttr reads ino's committed row, without the overlay.
func rowAttr(t *testing.T, db *DB, ino uint64) (Attr, string) {
	t.Helper()
	var vv string
	a, err := scanAttr(db.settled().QueryRow("SELECT "+attrCols+" FROM inodes WHERE ino=?", ino))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.settled().QueryRow("SELECT vv FROM inodes WHERE ino=?", ino).Scan(&vv); err != nil {
		t.Fatal(err)
	}
	return a, vv
}

// TestSetAttrOfOpenWriterIsCoalesced checks what tar does to each file it
// extracts (write, chown, chmod, utimes, close): the changes are held with
// the writes, seen by every read at once, and committed as one version at
// release, with the times tar set (not the writes').
func TestSetAttrOfOpenWriterIsCoalesced(t *testing.T) {
	db := openTest(t, "a")
	f, err := db.CreateOpen(RootIno, "f", NewNode{Mode: syscall.S_IFREG | 0o600}, true)
	if err != nil {
		t.Fatal(err)
	}
	_, vvCreated := rowAttr(t, db, f.Ino)
	db.NoteWrite(f.Ino, 5000, f.Mtime+10)
	uid, gid, mode := uint32(1000), uint32(100), uint32(0o4755)
	archive := int64(1_500_000_000_000_000_000)
	for _, in := range []SetAttrIn{{UID: &uid, GID: &gid}, {Mode: &mode}, {Atime: &archive, Mtime: &archive}} {
		if _, err := db.SetAttr(f.Ino, in); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, a Attr) {
		t.Helper()
		if a.UID != uid || a.GID != gid || a.Mode != syscall.S_IFREG|mode || a.Mtime != archive || a.Atime != archive || a.Size != 5000 {
			t.Errorf("%s: uid %d gid %d mode %#o mtime %d atime %d size %d; want %d %d %#o %d %d 5000",
				when, a.UID, a.GID, a.Mode, a.Mtime, a.Atime, a.Size, uid, gid, syscall.S_IFREG|mode, archive, archive)
		}
		if a.Ctime <= f.Ctime {
			t.Errorf("%s: ctime %d did not move past %d", when, a.Ctime, f.Ctime)
		}
	}
	a, err := db.GetAttr(f.Ino)
	if err != nil {
		t.Fatal(err)
	}
	check("getattr before release", a)
	l, err := db.Lookup(RootIno, "f")
	if err != nil {
		t.Fatal(err)
	}
	check("lookup before release", l)
	ents, err := db.ReadDir(RootIno, 0, 10)
	if err != nil || len(ents) != 1 {
		t.Fatalf("readdir: %v %v", ents, err)
	}
	check("readdir before release", ents[0].Attr)
	if row, vv := rowAttr(t, db, f.Ino); row.UID == uid || vv != vvCreated {
		t.Errorf("the row changed before release: uid %d, vv %s (created %s)", row.UID, vv, vvCreated)
	}

	if err := db.Release(f.Ino, true); err != nil {
		t.Fatal(err)
	}
	row, vv := rowAttr(t, db, f.Ino)
	check("row after release", row)
	if vv == vvCreated {
		t.Error("release did not make a new version")
	}
	if len(db.metaPending) != 0 || db.overlay[f.Ino] != nil {
		t.Errorf("pending after release: %v %v", db.metaPending, db.overlay[f.Ino])
	}
}

// TestCoalescedSetAttrBeforeOtherWrites checks that a write transaction of
// anything else first commits the held change, so that it never reads or
// overwrites a stale row: here a rename (which sets the file's ctime) and
// an xattr, both while the file is still open.
func TestCoalescedSetAttrBeforeOtherWrites(t *testing.T) {
	db := openTest(t, "a")
	f, err := db.CreateOpen(RootIno, "f", NewNode{Mode: syscall.S_IFREG | 0o600}, true)
	if err != nil {
		t.Fatal(err)
	}
	mode := uint32(0o640)
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if row, _ := rowAttr(t, db, f.Ino); row.Mode&0o7777 != 0o600 {
		t.Fatalf("the chmod was not held: row mode %#o", row.Mode)
	}
	if err := db.Rename(RootIno, "f", RootIno, "g", 0); err != nil {
		t.Fatal(err)
	}
	if row, _ := rowAttr(t, db, f.Ino); row.Mode&0o7777 != 0o640 {
		t.Errorf("a rename did not commit the held chmod first: row mode %#o", row.Mode)
	}
	// Held again, then an xattr: the xattr's transaction commits it.
	mode = 0o604
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetXattr(f.Ino, "user.x", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if row, _ := rowAttr(t, db, f.Ino); row.Mode&0o7777 != 0o604 {
		t.Errorf("setxattr did not commit the held chmod first: row mode %#o", row.Mode)
	}
	// Now the file has an attribute: a chmod is no longer held (an
	// access ACL would have to follow it).
	mode = 0o600
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if row, _ := rowAttr(t, db, f.Ino); row.Mode&0o7777 != 0o600 {
		t.Errorf("chmod of a file with xattrs was held: row mode %#o", row.Mode)
	}
	if err := db.Release(f.Ino, true); err != nil {
		t.Fatal(err)
	}
}

// TestCoalescedSetAttrTimes checks the times' order: a write after utimes
// moves mtime on, utimes after writes replaces their time, and a held
// change survives Close (the unmount path).
func TestCoalescedSetAttrTimes(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir+"/index.db", Options{Device: "a"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := db.CreateOpen(RootIno, "f", NewNode{Mode: syscall.S_IFREG | 0o600}, true)
	if err != nil {
		t.Fatal(err)
	}
	old := int64(1_000_000_000_000_000_000)
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Mtime: &old}); err != nil {
		t.Fatal(err)
	}
	later := f.Mtime + 1_000_000
	db.NoteWrite(f.Ino, 10, later)
	if a, _ := db.GetAttr(f.Ino); a.Mtime != later {
		t.Errorf("a write after utimes: mtime %d, want %d", a.Mtime, later)
	}
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Mtime: &old}); err != nil {
		t.Fatal(err)
	}
	if a, _ := db.GetAttr(f.Ino); a.Mtime != old || a.Size != 10 {
		t.Errorf("utimes after a write: mtime %d size %d, want %d 10", a.Mtime, a.Size, old)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir+"/index.db", Options{Device: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if a, _ := db.GetAttr(f.Ino); a.Mtime != old || a.Size != 10 {
		t.Errorf("after Close and Open: mtime %d size %d, want %d 10", a.Mtime, a.Size, old)
	}
}

// TestSetAttrNotHeld checks the cases that commit at once: a file not open
// for writing, and a size change.
func TestSetAttrNotHeld(t *testing.T) {
	db := openTest(t, "a")
	f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o600)
	mode := uint32(0o644)
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if row, _ := rowAttr(t, db, f.Ino); row.Mode&0o7777 != 0o644 {
		t.Errorf("chmod of a closed file was held: row mode %#o", row.Mode)
	}
	if _, err := db.Open(f.Ino, true, false); err != nil {
		t.Fatal(err)
	}
	size := int64(3)
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Size: &size}); err != nil {
		t.Fatal(err)
	}
	if row, _ := rowAttr(t, db, f.Ino); row.Size != 3 {
		t.Errorf("truncate was held: row size %d", row.Size)
	}
}
