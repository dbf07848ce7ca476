package index

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestAccessedRelatime checks relatime in the index: a read moves the
// access time only when relatime says so, in memory only (no row changes,
// nothing for the outbox), FlushAll and Close write it without journaling
// it, and an explicit access time wins over a pending one.
func TestAccessedRelatime(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{Device: "a", Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
	changes := func() int64 {
		t.Helper()
		var n int64
		if err := db.w.QueryRow("SELECT total_changes()").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	pending := func() int {
		t.Helper()
		s, err := db.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return s.Pending
	}
	rowAtime := func() int64 {
		t.Helper()
		var a int64
		if err := db.settled().QueryRow("SELECT atime FROM inodes WHERE ino=?", f.Ino).Scan(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	atime := func() int64 {
		t.Helper()
		a, err := db.GetAttr(f.Ino)
		if err != nil {
			t.Fatal(err)
		}
		return a.Atime
	}
	accessed := func() {
		t.Helper()
		if err := db.Accessed(f.Ino); err != nil {
			t.Fatal(err)
		}
	}
	c0, p0 := changes(), pending()
	created := clock.UnixNano()

	t.Run("read after a change moves the time", func(t *testing.T) {
		clock = clock.Add(time.Second)
		accessed()
		if got := atime(); got != clock.UnixNano() {
			t.Errorf("atime %d, want %d", got, clock.UnixNano())
		}
		if changes() != c0 || pending() != p0 || rowAtime() != created {
			t.Errorf("a read wrote the index: %d row changes, outbox %d -> %d, row atime %d", changes()-c0, p0, pending(), rowAtime())
		}
	})
	t.Run("second read within a day does not", func(t *testing.T) {
		before := atime()
		clock = clock.Add(time.Hour)
		accessed()
		if got := atime(); got != before {
			t.Errorf("atime %d, want %d", got, before)
		}
	})
	t.Run("a day later it does", func(t *testing.T) {
		clock = clock.Add(25 * time.Hour)
		accessed()
		if got := atime(); got != clock.UnixNano() {
			t.Errorf("atime %d, want %d", got, clock.UnixNano())
		}
	})
	t.Run("FlushAll writes it without journaling", func(t *testing.T) {
		if err := db.FlushAll(); err != nil {
			t.Fatal(err)
		}
		if rowAtime() != clock.UnixNano() || pending() != p0 {
			t.Errorf("after FlushAll: row atime %d, outbox %d -> %d", rowAtime(), p0, pending())
		}
	})
	t.Run("an explicit time wins over a pending one", func(t *testing.T) {
		clock = clock.Add(48 * time.Hour)
		accessed()
		old := int64(1234)
		if _, err := db.SetAttr(f.Ino, SetAttrIn{Atime: &old}); err != nil {
			t.Fatal(err)
		}
		if got := atime(); got != old {
			t.Errorf("atime %d, want %d", got, old)
		}
		if err := db.FlushAll(); err != nil {
			t.Fatal(err)
		}
		if rowAtime() != old {
			t.Errorf("row atime %d after FlushAll, want %d", rowAtime(), old)
		}
	})
	t.Run("Close writes a pending time", func(t *testing.T) {
		clock = clock.Add(time.Second)
		accessed()
		want := clock.UnixNano()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db, err = Open(path, Options{Device: "a", Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		if got := atime(); got != want {
			t.Errorf("atime after reopening %d, want %d", got, want)
		}
	})
}

// TestSetMtimeOverPendingWrite checks that a modification time set while
// writes are still coalesced in memory wins over the writes' own time, both
// as read and once committed (tar writes a file, then sets its time, then
// closes it).
func TestSetMtimeOverPendingWrite(t *testing.T) {
	db := openTest(t, "a")
	f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
	if _, err := db.Open(f.Ino, true, false); err != nil {
		t.Fatal(err)
	}
	db.NoteWrite(f.Ino, 10, time.Now().UnixNano())
	want := int64(1_000_000_000_123)
	if _, err := db.SetAttr(f.Ino, SetAttrIn{Mtime: &want}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		a, err := db.GetAttr(f.Ino)
		if err != nil {
			t.Fatal(err)
		}
		if a.Mtime != want || a.Size != 10 {
			t.Errorf("%s: mtime %d size %d, want %d and 10", when, a.Mtime, a.Size, want)
		}
	}
	check("before the flush")
	if err := db.Release(f.Ino, true); err != nil {
		t.Fatal(err)
	}
	check("after release")
}
