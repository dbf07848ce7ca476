package index

import (
	"fmt"
	"syscall"
	"testing"
)

// TestStatsOnePass checks Stats's single pass over the inodes against one
// query per figure, as it was computed before.
func TestStatsOnePass(t *testing.T) {
	db := openTest(t, "a")
	d := mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o755)
	gone := mustCreate(t, db, RootIno, "gone", syscall.S_IFDIR|0o755)
	if err := db.Rmdir(RootIno, "gone"); err != nil {
		t.Fatal(err)
	}
	_ = gone
	for i := range 6 {
		mustCreate(t, db, d.Ino, fmt.Sprintf("f%d", i), syscall.S_IFREG|0o644)
	}
	mustCreate(t, db, RootIno, "l", syscall.S_IFLNK|0o777)
	if _, err := db.SetPinned([]uint64{d.Ino}, true); err != nil {
		t.Fatal(err)
	}
	// Some content sizes and states, as the uploader and a remote change
	// would leave them.
	db.mu.Lock()
	db.settled()
	_, err := db.w.Exec("UPDATE inodes SET size=ino*10, state=CASE WHEN ino%3=0 THEN ? WHEN ino%3=1 THEN ? ELSE state END WHERE (mode & 61440) = 32768",
		StateAbsent, StateResident)
	db.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	s, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	one := func(q string, args ...any) (n int, b int64) {
		t.Helper()
		if err := db.settled().QueryRow(q, args...).Scan(&n, &b); err != nil {
			t.Fatal(err)
		}
		return n, b
	}
	for _, st := range []State{StateAbsent, StateStaged, StateResident} {
		n, b := one("SELECT count(*), coalesce(sum(size),0) FROM inodes WHERE (mode & 61440) = 32768 AND state=?", st)
		if s.Files[st] != n || s.Bytes[st] != b {
			t.Errorf("%v: %d files, %d bytes; want %d, %d", st, s.Files[st], s.Bytes[st], n, b)
		}
	}
	if n, _ := one("SELECT count(*), 0 FROM inodes WHERE (mode & 61440) = 16384 AND nlink > 0"); s.Dirs != n || n != 2 {
		t.Errorf("dirs %d, want %d (and 2)", s.Dirs, n)
	}
	if n, _ := one("SELECT count(*), 0 FROM inodes WHERE pinned != 0 AND (mode & 61440) = 32768 AND nlink > 0"); s.Pinned != n || n == 0 {
		t.Errorf("pinned %d, want %d (not 0)", s.Pinned, n)
	}
	files, bytes, err := db.PinBacklog()
	if err != nil {
		t.Fatal(err)
	}
	if s.PinFetch != files || s.PinBytes != bytes || files == 0 {
		t.Errorf("pin backlog %d, %d; want %d, %d (not 0)", s.PinFetch, s.PinBytes, files, bytes)
	}
}
