package index

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestTmpfile checks O_TMPFILE's life in the index: a nameless file takes
// writes and attribute changes without reaching the outbox, is named (and
// journaled) by Link, and is purged if its last handle closes first.
func TestTmpfile(t *testing.T) {
	db := openTest(t, "a")
	pending := func() int {
		t.Helper()
		s, err := db.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return s.Pending
	}
	base := pending()
	t.Run("closed without a name", func(t *testing.T) {
		f, err := db.CreateTmpfile(RootIno, NewNode{Mode: syscall.S_IFREG | 0o600})
		if err != nil {
			t.Fatal(err)
		}
		if !f.IsTmpfile() || f.Nlink != 0 {
			t.Fatalf("tmpfile: %+v", f)
		}
		if _, err := db.Open(f.Ino, true, false); err != nil {
			t.Fatal(err)
		}
		db.NoteWrite(f.Ino, 100, time.Now().UnixNano())
		m := uint32(0o640)
		if _, err := db.SetAttr(f.Ino, SetAttrIn{Mode: &m}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetXattr(f.Ino, "user.x", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if err := db.Flush(f.Ino); err != nil {
			t.Fatal(err)
		}
		if got := pending(); got != base {
			t.Errorf("outbox rows for a nameless file: %d, want %d", got, base)
		}
		if err := db.Release(f.Ino, true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetAttr(f.Ino); !errors.Is(err, ErrNotExist) {
			t.Errorf("tmpfile after its last close: %v, want ErrNotExist", err)
		}
	})
	t.Run("named by link", func(t *testing.T) {
		f, err := db.CreateTmpfile(RootIno, NewNode{Mode: syscall.S_IFREG | 0o600})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Open(f.Ino, true, false); err != nil {
			t.Fatal(err)
		}
		db.NoteWrite(f.Ino, 10, time.Now().UnixNano())
		a, err := db.Link(f.Ino, RootIno, "named")
		if err != nil {
			t.Fatal(err)
		}
		if a.Nlink != 1 || a.IsTmpfile() || a.State != StateStaged {
			t.Errorf("after link: %+v", a)
		}
		if got := pending(); got <= base {
			t.Errorf("a named tmpfile is not in the outbox")
		}
		if err := db.Release(f.Ino, true); err != nil {
			t.Fatal(err)
		}
		if a, err := db.Lookup(RootIno, "named"); err != nil || a.Size != 10 {
			t.Errorf("named tmpfile after close: %+v %v", a, err)
		}
	})
}
