package index

import (
	"syscall"
	"testing"
)

func TestPathOf(t *testing.T) {
	db := openTest(t, "")
	d := mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o755)
	f := mustCreate(t, db, d.Ino, "f", syscall.S_IFREG|0o644)
	for _, tc := range []struct {
		ino  uint64
		want string
	}{{RootIno, "/"}, {d.Ino, "/d"}, {f.Ino, "/d/f"}} {
		if got, err := db.PathOf(tc.ino); err != nil || got != tc.want {
			t.Errorf("PathOf(%d) = %q, %v; want %q", tc.ino, got, err, tc.want)
		}
	}
	if err := db.Unlink(d.Ino, "f"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.PathOf(f.Ino); got != "(unlinked)" {
		t.Errorf("unlinked: %q", got)
	}
}
