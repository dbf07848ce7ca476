package index

import (
	"fmt"
	"syscall"
	"testing"
)

// TestSealBatchPastBlockedWindow checks that the uploader cannot stall on
// the outbox's order: each directory's entry stays at the front while its
// file row moves to the back with every entry made in it, so a window of
// the oldest rows can hold only entries that wait for those file rows. A
// batch must take them from wherever they are, and the outbox drain.
func TestSealBatchPastBlockedWindow(t *testing.T) {
	db := openTest(t, "a")
	var dirs []Attr
	for i := range 6 {
		dirs = append(dirs, mustCreate(t, db, RootIno, fmt.Sprintf("d%d", i), syscall.S_IFDIR|0o755))
	}
	// Now the directories' entries are the oldest rows, and an entry made
	// in each sends its file row to the back.
	for _, d := range dirs {
		mustCreate(t, db, d.Ino, "s", syscall.S_IFDIR|0o755)
	}
	seal := func(seq uint64, recs []Record) ([]byte, error) { return []byte(fmt.Sprint(len(recs))), nil }
	for round := 0; ; round++ {
		if round > 100 {
			t.Fatal("the outbox did not drain in 100 batches")
		}
		b, err := db.SealBatch(4, nil, seal)
		if err != nil {
			t.Fatal(err)
		}
		if b.Seq == 0 {
			break
		}
	}
	var n int
	if err := db.settled().QueryRow("SELECT count(*) FROM outbox").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d outbox rows left that no batch took", n)
	}
}
