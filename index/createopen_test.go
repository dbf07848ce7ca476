package index

import (
	"errors"
	"syscall"
	"testing"
)

// TestCreateOpen checks that CreateOpen leaves what Create then Open leave.
func TestCreateOpen(t *testing.T) {
	db := openTest(t, "a")
	t.Run("creates and opens", func(t *testing.T) {
		a, err := db.CreateOpen(RootIno, "f", NewNode{Mode: syscall.S_IFREG | 0o644}, true)
		if err != nil {
			t.Fatal(err)
		}
		if a.State != StateStaged || a.Nlink != 1 || a.Size != 0 {
			t.Errorf("attr %+v", a)
		}
		if got, err := db.Lookup(RootIno, "f"); err != nil || got.Ino != a.Ino || got.Wgen != a.Wgen {
			t.Errorf("lookup %+v, %v; want ino %d wgen %d", got, err, a.Ino, a.Wgen)
		}
		if n := db.Writers(a.Ino); n != 1 {
			t.Errorf("%d writers, want 1", n)
		}
		if err := db.Release(a.Ino, true); err != nil {
			t.Fatal(err)
		}
		if n := db.Writers(a.Ino); n != 0 {
			t.Errorf("%d writers after release, want 0", n)
		}
	})
	t.Run("existing name", func(t *testing.T) {
		if _, err := db.CreateOpen(RootIno, "f", NewNode{Mode: syscall.S_IFREG | 0o644}, true); !errors.Is(err, ErrExist) {
			t.Errorf("err %v, want ErrExist", err)
		}
	})
	t.Run("bad name", func(t *testing.T) {
		if _, err := db.CreateOpen(RootIno, "a/b", NewNode{Mode: syscall.S_IFREG | 0o644}, true); !errors.Is(err, ErrInvalid) {
			t.Errorf("err %v, want ErrInvalid", err)
		}
	})
}
