package index

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestClockAcrossOpens checks that the hybrid logical clock never goes back
// across a reopen of the index, whether it closed cleanly (the clock comes
// from the record Close wrote) or not (it comes from the tables), even when
// the wall clock has gone back meanwhile.
func TestClockAcrossOpens(t *testing.T) {
	clock := time.Unix(1_700_000_000, 0)
	now := func() time.Time { return clock }
	path := filepath.Join(t.TempDir(), "index.db")
	open := func() *DB {
		t.Helper()
		db, err := Open(path, Options{Device: "a", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	record := func(db *DB) string {
		t.Helper()
		v, err := db.metaString(clockKey)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	largest := func(db *DB) int64 {
		t.Helper()
		var h int64
		if err := db.w.QueryRow("SELECT max(hlc) FROM inodes").Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}

	db := open()
	mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
	issued := db.hlcLast
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("clean close", func(t *testing.T) {
		clock = clock.Add(-time.Hour) // the wall clock went back
		db = open()
		if db.hlcLast != issued {
			t.Errorf("clock after a clean close = %d, want %d", db.hlcLast, issued)
		}
		if v := record(db); v != "" {
			t.Errorf("clock record %q still there after Open: a crash now would trust it", v)
		}
		mustCreate(t, db, RootIno, "g", syscall.S_IFREG|0o644)
		if got := largest(db); got <= issued {
			t.Errorf("a change after the reopen got clock %d, not past %d", got, issued)
		}
		issued = db.hlcLast
	})

	t.Run("crash", func(t *testing.T) {
		crash(db)
		clock = clock.Add(-time.Hour)
		db = open()
		defer db.Close()
		if db.hlcLast < issued {
			t.Errorf("clock after a crash = %d, want at least %d, the last issued", db.hlcLast, issued)
		}
		mustCreate(t, db, RootIno, "h", syscall.S_IFREG|0o644)
		if got := largest(db); got <= issued {
			t.Errorf("a change after the crash got clock %d, not past %d", got, issued)
		}
	})
}

// TestLostInodeNumbersNotReused checks that a create lost with its group
// (a crash before the commit) does not give its inode number to the next
// create after the restart: fs made the lost inode's cache file already.
func TestLostInodeNumbersNotReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{Device: "a", GroupWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, RootIno, "kept", syscall.S_IFREG|0o644)
	if err := db.Sync(); err != nil { // commits the group
		t.Fatal(err)
	}
	lost := mustCreate(t, db, RootIno, "lost", syscall.S_IFREG|0o644)
	crash(db) // the group never commits

	db, err = Open(path, Options{Device: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Lookup(RootIno, "lost"); err == nil {
		t.Fatal("the uncommitted create survived the crash: the test did not lose it")
	}
	next := mustCreate(t, db, RootIno, "next", syscall.S_IFREG|0o644)
	if next.Ino <= lost.Ino {
		t.Errorf("the first create after the crash got inode %d, not past the lost one's %d", next.Ino, lost.Ino)
	}
}

// crash ends db as a killed process would: an open group never commits,
// and Close writes nothing.
func crash(db *DB) {
	db.mu.Lock()
	if g := db.grp; g != nil {
		g.timer.Stop()
		g.c.Close() // returns the connection mid-transaction: rolled back
		db.grp = nil
	}
	db.mu.Unlock()
	close(db.ckptStop)
	<-db.ckptDone
	db.ckpt.Close()
	db.r.Close()
	db.w.Close()
}
