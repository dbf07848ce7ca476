package index

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// pullOrders are the two orders in which two devices can apply each
// other's journals: the device whose journal is applied first.
var pullOrders = []struct {
	name   string
	aFirst bool
}{{"a's journal first", true}, {"b's journal first", false}}

// swap uploads a's and b's changes and has each apply the other's, in the
// order asked, then settles.
func swap(t *testing.T, devs []*simDevice, aFirst bool) {
	t.Helper()
	a, b := devs[0], devs[1]
	a.upload()
	b.upload()
	if aFirst {
		b.pull(a, -1)
		a.pull(b, -1)
	} else {
		a.pull(b, -1)
		b.pull(a, -1)
	}
	settle(t, devs)
}

// TestRelinkOverDeletedChild: a moves a file and changes it while b
// changes it later and deletes it. a's version becomes a conflict copy
// linked again at the file's new name, which keeps that entry's version;
// b makes the same copy and finds the name still naming the deleted file.
// The entry then has one version with two children, one deleted: the
// live one keeps the name whatever order the journals arrive in. File IDs
// are random: several seeds give both orders of the two children's IDs.
func TestRelinkOverDeletedChild(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		for _, o := range pullOrders {
			t.Run(fmt.Sprintf("seed %d, %s", seed, o.name), func(t *testing.T) {
				relinkOverDeletedChild(t, seed, o.aFirst)
			})
		}
	}
}

func relinkOverDeletedChild(t *testing.T, seed int64, aFirst bool) {
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	devs := newSimSeeded(t, clock, seed, "aaaa", "bbbb")
	a, b := devs[0], devs[1]
	mustCreate(t, b.db, RootIno, "d", syscall.S_IFDIR|0o755)
	b.mustWrite("/x", "base")
	settle(t, devs)
	da, _ := a.lookupPath("/d")
	if err := a.db.Rename(RootIno, "x", da.Ino, "x", 0); err != nil {
		t.Fatal(err)
	}
	xa, _ := a.lookupPath("/d/x")
	mode := uint32(0o640)
	if _, err := a.db.SetAttr(xa.Ino, SetAttrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Second)
	xb, _ := b.lookupPath("/x")
	mode = 0o600
	if _, err := b.db.SetAttr(xb.Ino, SetAttrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if err := b.db.Unlink(RootIno, "x"); err != nil {
		t.Fatal(err)
	}
	swap(t, devs, aFirst)
	tr := checkConverged(t, devs)
	if contents(tr)[hashOf([]byte("base"))] == 0 {
		t.Fatalf("a's version is lost:\n%s", dumpTree(tr))
	}
}
