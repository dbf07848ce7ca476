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

// pullBoth has c apply a's and b's journals, a's first if aFirst.
func pullBoth(c, a, b *simDevice, aFirst bool) {
	if aFirst {
		c.pull(a, -1)
		c.pull(b, -1)
	} else {
		c.pull(b, -1)
		c.pull(a, -1)
	}
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

// TestDeletionBaseAnyOrder: a overwrites a file and deletes it, while b
// changes it concurrently with an earlier time; a's deletion removed a's
// version, which beats b's, so b's version is kept as a conflict copy (at
// the file's name, now free) and the file stays deleted. A third device that held only the first version
// must end the same whether a's deletion or b's change reaches it first:
// the tombstone remembers the version the deletion removed as its record
// says, not only the (older) version this device held.
func TestDeletionBaseAnyOrder(t *testing.T) {
	for _, o := range pullOrders {
		t.Run(o.name, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, "aaaa", "bbbb", "cccc")
			a, b, c := devs[0], devs[1], devs[2]
			a.mustWrite("/f", "base")
			settle(t, devs)
			fb, _ := b.lookupPath("/f")
			mode := uint32(0o600)
			if _, err := b.db.SetAttr(fb.Ino, SetAttrIn{Mode: &mode}); err != nil {
				t.Fatal(err)
			}
			clock.advance(time.Second)
			a.mustWrite("/f", "from a")
			if err := a.db.Unlink(RootIno, "f"); err != nil {
				t.Fatal(err)
			}
			a.upload()
			b.upload()
			pullBoth(c, a, b, o.aFirst)
			settle(t, devs)
			tr := checkConverged(t, devs)
			// The copy takes the file's name, which is free.
			if e := tr["/f"]; e.FID == fb.FileID || e.Hash != hashOf([]byte("base")) || len(tr) != 1 {
				t.Fatalf("want the file deleted and b's version kept as a copy:\n%s", dumpTree(tr))
			}
		})
	}
}

// TestDirectoryKeptAgainstDeletionTakesUnseenVersion: c writes into a
// directory (a version of it), b changes it later and then deletes it.
// The directory survives, since the deletion has not seen c's entry, with
// c's version, the only one the deletion has not seen: also on c, where
// b's later version had already replaced c's before the deletion came.
func TestDirectoryKeptAgainstDeletionTakesUnseenVersion(t *testing.T) {
	for _, o := range []struct {
		name   string
		bFirst bool // a applies b's journal before c's
	}{{"b's journal first", true}, {"c's journal first", false}} {
		t.Run(o.name, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, "aaaa", "bbbb", "cccc")
			a, b, c := devs[0], devs[1], devs[2]
			mustCreate(t, a.db, RootIno, "d", syscall.S_IFDIR|0o755)
			settle(t, devs)
			c.mustWrite("/d/f", "from c")
			c.upload()
			clock.advance(time.Second)
			db, _ := b.lookupPath("/d")
			mode := uint32(0o700)
			if _, err := b.db.SetAttr(db.Ino, SetAttrIn{Mode: &mode}); err != nil {
				t.Fatal(err)
			}
			b.upload()
			c.pull(b, 1)
			if err := b.db.Rmdir(RootIno, "d"); err != nil {
				t.Fatal(err)
			}
			b.upload()
			c.pull(b, -1)
			if o.bFirst {
				a.pull(b, -1)
				a.pull(c, -1)
			} else {
				a.pull(c, -1)
				a.pull(b, -1)
			}
			settle(t, devs)
			tr := checkConverged(t, devs)
			if e := tr["/d"]; e.Mode != syscall.S_IFDIR|0o755 || tr["/d/f"].Hash != hashOf([]byte("from c")) {
				t.Fatalf("want d kept with c's version and its entry:\n%s", dumpTree(tr))
			}
		})
	}
}

// TestRelinkClaimsOfRevivedChild extends TestRelinkOverDeletedChild with a
// third device c that changes the file while b deletes it, so the deleted
// child comes back: one entry version then names two live children, the
// file a moved there and the conflict copy linked there again after the
// file's deletion cleared it on some devices. Which one keeps the name must
// not depend on which was live when each record arrived: every claim is
// kept and the name is settled from all of them (claims.go). Both orders
// in which c gets the others' journals, and several seeds for both orders
// of the two file IDs.
func TestRelinkClaimsOfRevivedChild(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		for _, o := range pullOrders {
			t.Run(fmt.Sprintf("seed %d, %s", seed, o.name), func(t *testing.T) {
				clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
				devs := newSimSeeded(t, clock, seed, "aaaa", "bbbb", "cccc")
				a, b, c := devs[0], devs[1], devs[2]
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
				clock.advance(time.Second)
				xc, _ := c.lookupPath("/x")
				mode = 0o604
				if _, err := c.db.SetAttr(xc.Ino, SetAttrIn{Mode: &mode}); err != nil {
					t.Fatal(err)
				}
				swap(t, devs[:2], o.aFirst)
				c.upload()
				pullBoth(c, a, b, o.aFirst)
				settle(t, devs)
				tr := checkConverged(t, devs)
				if contents(tr)[hashOf([]byte("base"))] == 0 {
					t.Fatalf("a version is lost:\n%s", dumpTree(tr))
				}
			})
		}
	}
}

// TestRelinkLosesBeforeSent: b's later version of the name a names
// nothing (b made a file there and deleted it), so a's file there is
// linked again at a, keeping b's version: a claim a has still to send.
// Before a sends it, c's directory takes the name (a directory keeps it
// against a file) and a's file goes to a conflict name. The outbox then
// sends the directory's version for the name, not the relink, whose claim
// a keeps: it was never sent. Once c moves its directory away and makes a
// file at a, b's version holds the name again, and every device must
// settle it from the same claims. b also relinks a's file onto its own
// version, already sent, which then loses the same way: the version must
// stay. Several seeds give both orders of the two files' IDs.
func TestRelinkLosesBeforeSent(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSimSeeded(t, clock, seed, "aaaa", "bbbb", "cccc")
			a, b, c := devs[0], devs[1], devs[2]
			a.mustWrite("/a", "from a")
			a.upload()
			clock.advance(time.Second)
			mustCreate(t, c.db, RootIno, "a", syscall.S_IFDIR|0o755)
			c.upload()
			clock.advance(time.Second)
			if err := c.db.Rename(RootIno, "a", RootIno, "d", 0); err != nil {
				t.Fatal(err)
			}
			c.mustWrite("/a", "from c")
			c.upload()
			clock.advance(time.Second)
			b.mustWrite("/a", "from b")
			if err := b.db.Unlink(RootIno, "a"); err != nil {
				t.Fatal(err)
			}
			b.upload()
			a.pull(b, -1)
			if e, err := a.lookupPath("/a"); err != nil || e.FileID == "" {
				t.Fatalf("a's file is not linked again at a: %v", err)
			}
			a.pull(c, 1)
			a.pull(c, -1)
			settle(t, devs)
			tr := checkConverged(t, devs)
			for _, s := range []string{"from a", "from c"} {
				hasContent(t, tr, s)
			}
		})
	}
}

// TestDirectoryEditLosesThenDeleted: a changes a directory while b
// changes it later, then deletes it. a takes b's change (the later), then
// b's deletion, which has seen it; b takes a's change after its own
// deletion, which has not seen it. A directory keeps no conflict copy, so
// on b a's change brings it back: it must on a too, and on a third device
// whichever order it applies the two journals in, with a's change (the
// only version the deletion has not seen).
func TestDirectoryEditLosesThenDeleted(t *testing.T) {
	for _, o := range pullOrders {
		t.Run(o.name, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, "aaaa", "bbbb", "cccc")
			a, b, c := devs[0], devs[1], devs[2]
			mustCreate(t, a.db, RootIno, "d", syscall.S_IFDIR|0o755)
			settle(t, devs)
			da, _ := a.lookupPath("/d")
			mode := uint32(0o700)
			if _, err := a.db.SetAttr(da.Ino, SetAttrIn{Mode: &mode}); err != nil {
				t.Fatal(err)
			}
			a.upload()
			clock.advance(time.Second)
			db, _ := b.lookupPath("/d")
			mode = 0o750
			if _, err := b.db.SetAttr(db.Ino, SetAttrIn{Mode: &mode}); err != nil {
				t.Fatal(err)
			}
			b.upload()
			if err := b.db.Rmdir(RootIno, "d"); err != nil {
				t.Fatal(err)
			}
			b.upload()
			a.pull(b, 1)
			a.pull(b, -1)
			b.pull(a, -1)
			pullBoth(c, a, b, o.aFirst)
			settle(t, devs)
			tr := checkConverged(t, devs)
			if e, ok := tr["/d"]; !ok || e.Mode != syscall.S_IFDIR|0o700 {
				t.Fatalf("want d kept with a's change:\n%s", dumpTree(tr))
			}
		})
	}
}

// TestRelinksOntoUnsentVersion: b makes a version of the name e naming
// nothing (a file made and deleted there), later than a's, and keeps it
// unsent while a's file P, then P's deletion, then a's file Q arrive:
// each is linked again at e under b's version, so the version has two
// children before b sends it, and b sends it naming Q only. The claim
// naming P must still reach the other devices: once c's change of P
// (concurrent with its deletion) brings P back, every device settles e
// from the same claims. Several seeds give both orders of P's and Q's IDs.
func TestRelinksOntoUnsentVersion(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSimSeeded(t, clock, seed, "aaaa", "bbbb", "cccc")
			a, b, c := devs[0], devs[1], devs[2]
			a.mustWrite("/e", "P")
			a.upload()
			c.pull(a, -1)
			pc, _ := c.lookupPath("/e")
			mode := uint32(0o600)
			if _, err := c.db.SetAttr(pc.Ino, SetAttrIn{Mode: &mode}); err != nil {
				t.Fatal(err)
			}
			c.upload()
			if err := a.db.Unlink(RootIno, "e"); err != nil {
				t.Fatal(err)
			}
			a.upload()
			a.mustWrite("/e", "Q")
			a.upload()
			clock.advance(time.Second)
			b.mustWrite("/e", "from b")
			if err := b.db.Unlink(RootIno, "e"); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				b.pull(a, 1)
			}
			b.upload()
			settle(t, devs)
			tr := checkConverged(t, devs)
			for _, s := range []string{"P", "Q"} {
				hasContent(t, tr, s)
			}
		})
	}
}

// TestMovedDirectoryVersionSent: c moves directory d to b while b moves it
// to x later; c applies b's move (the later keeps the directory) before
// it sends its own, so nothing is linked at b on c when its version of b
// is sent. The version still names the directory, here and in the record:
// sent naming nothing, it settled b elsewhere on a's file made there
// later, while on c the directory kept the name against the file.
func TestMovedDirectoryVersionSent(t *testing.T) {
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	devs := newSim(t, clock, "aaaa", "bbbb", "cccc")
	a, b, c := devs[0], devs[1], devs[2]
	mustCreate(t, a.db, RootIno, "d", syscall.S_IFDIR|0o755)
	settle(t, devs)
	if err := c.db.Rename(RootIno, "d", RootIno, "b", 0); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Second)
	if err := b.db.Rename(RootIno, "d", RootIno, "x", 0); err != nil {
		t.Fatal(err)
	}
	b.upload()
	c.pull(b, -1)
	c.upload()
	clock.advance(time.Second)
	a.mustWrite("/b", "from a")
	a.upload()
	settle(t, devs)
	tr := checkConverged(t, devs)
	if contents(tr)[hashOf([]byte("from a"))] == 0 {
		t.Fatalf("a's file is lost:\n%s", dumpTree(tr))
	}
}
