package index

import (
	"bytes"
	"database/sql"
	"errors"
	"syscall"
	"testing"
)

// TestNoXattrCache checks that answering "no such attribute" from memory
// never hides an attribute, whichever way it arrived.
func TestNoXattrCache(t *testing.T) {
	const caps = "security.capability"
	noData := func(t *testing.T, db *DB, ino uint64) {
		t.Helper()
		if v, err := db.GetXattr(ino, caps); !errors.Is(err, ErrNoData) {
			t.Fatalf("GetXattr = %q, %v; want ErrNoData", v, err)
		}
	}
	t.Run("new file is known to have none", func(t *testing.T) {
		db := openTest(t, "a")
		f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
		if !db.noXattr.has(f.Ino) {
			t.Fatal("a file created without attributes is not in the set")
		}
		noData(t, db, f.Ino)
		if names, err := db.ListXattr(f.Ino); err != nil || len(names) != 0 {
			t.Errorf("ListXattr = %v, %v", names, err)
		}
	})
	t.Run("set then get", func(t *testing.T) {
		db := openTest(t, "a")
		f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
		noData(t, db, f.Ino)
		if err := db.SetXattr(f.Ino, caps, []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if v, err := db.GetXattr(f.Ino, caps); err != nil || !bytes.Equal(v, []byte("v")) {
			t.Fatalf("after SetXattr: %q, %v", v, err)
		}
		if names, err := db.ListXattr(f.Ino); err != nil || len(names) != 1 {
			t.Errorf("ListXattr = %v, %v", names, err)
		}
		if err := db.RemoveXattr(f.Ino, caps); err != nil {
			t.Fatal(err)
		}
		noData(t, db, f.Ino)
	})
	t.Run("a miss is remembered only if nothing changed meanwhile", func(t *testing.T) {
		db := openTest(t, "a")
		f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
		db.noXattr.forget(f.Ino)
		gen := db.noXattr.generation()
		db.noXattr.forget(f.Ino) // a change raced with the read
		db.noXattr.note(f.Ino, gen)
		if db.noXattr.has(f.Ino) {
			t.Fatal("a stale miss was remembered")
		}
		noData(t, db, f.Ino) // a fresh miss is
		if !db.noXattr.has(f.Ino) {
			t.Fatal("a fresh miss was not remembered")
		}
	})
	t.Run("database/sql transactions forget everything", func(t *testing.T) {
		db := openTest(t, "a")
		f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
		db.mu.Lock()
		err := db.withTx(func(tx *sql.Tx) error {
			_, err := tx.Exec("INSERT INTO xattrs(ino, name, value) VALUES(?, ?, ?)", f.Ino, []byte(caps), []byte("remote"))
			return err
		})
		db.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if v, err := db.GetXattr(f.Ino, caps); err != nil || string(v) != "remote" {
			t.Fatalf("an attribute written like a remote batch writes it: %q, %v", v, err)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		n := newNoXattr()
		for i := range maxNoXattr + 10 {
			n.add(uint64(i))
		}
		if len(n.inos) > maxNoXattr {
			t.Errorf("%d inodes kept, more than %d", len(n.inos), maxNoXattr)
		}
	})
}

// TestReadDirNotesNoXattr checks that listing a directory remembers which
// entries have no attribute (ls -l asks each for its ACL), and only those.
func TestReadDirNotesNoXattr(t *testing.T) {
	db := openTest(t, "a")
	plain := mustCreate(t, db, RootIno, "plain", syscall.S_IFREG|0o644)
	withX := mustCreate(t, db, RootIno, "with", syscall.S_IFREG|0o644)
	if err := db.SetXattr(withX.Ino, "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	db.noXattr.reset() // as after applying another device's batch
	if db.noXattr.has(plain.Ino) {
		t.Fatal("reset left an inode in the set")
	}
	if _, err := db.ReadDir(RootIno, 0, 100); err != nil {
		t.Fatal(err)
	}
	if !db.noXattr.has(plain.Ino) {
		t.Error("a listed entry without attributes is not in the set")
	}
	if db.noXattr.has(withX.Ino) {
		t.Error("a listed entry with an attribute is in the set")
	}
	if v, err := db.GetXattr(withX.Ino, "user.k"); err != nil || string(v) != "v" {
		t.Errorf("GetXattr after the listing = %q, %v", v, err)
	}
}
