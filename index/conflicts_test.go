package index

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// conflictPair makes two devices under policy that both edit /notes.txt
// after a common version; b's edit is the later one and wins. Both edits
// are uploaded before either device sees the other's, then all settle.
func conflictPair(t *testing.T, policy string) (a, b *simDevice, devs []*simDevice) {
	t.Helper()
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	devs = newSim(t, clock, "aaaa", "bbbb")
	for _, d := range devs {
		if err := d.db.SetConflictPolicy(policy); err != nil {
			t.Fatal(err)
		}
	}
	a, b = devs[0], devs[1]
	a.mustWrite("/notes.txt", "base")
	settle(t, devs)
	a.mustWrite("/notes.txt", "from a")
	clock.advance(3 * time.Second)
	b.mustWrite("/notes.txt", "from b")
	a.upload()
	b.upload()
	settle(t, devs)
	return a, b, devs
}

// listed returns d's conflicts, failing the test on an error.
func listed(t *testing.T, d *simDevice) []Conflict {
	t.Helper()
	cs, err := d.db.Conflicts(t.Context())
	if err != nil {
		t.Fatalf("%s: conflicts: %v", d.name, err)
	}
	return cs
}

func TestConflictsCopyPolicy(t *testing.T) {
	a, b, devs := conflictPair(t, PolicyCopy)
	tr := checkConverged(t, devs)
	orig, _ := a.lookupPath("/notes.txt")
	t.Run("listed the same on both devices", func(t *testing.T) {
		for _, d := range devs {
			cs := listed(t, d)
			if len(cs) != 1 {
				t.Fatalf("%s: want one conflict, got %+v\n%s", d.name, cs, dumpTree(tr))
			}
			c := cs[0]
			if !strings.HasPrefix(c.CopyPath, "/notes (conflict aaaa 2026-01-02 ") || c.OrigPath != "/notes.txt" || c.OrigID != orig.FileID {
				t.Fatalf("%s: paths: %+v", d.name, c)
			}
			if c.Loser.Device != "aaaa" || c.Winner == nil || c.Winner.Device != "bbbb" || c.Loser.HLC >= c.Winner.HLC {
				t.Fatalf("%s: sides: %+v winner %+v", d.name, c, c.Winner)
			}
			if c.LoserVV != nil {
				t.Fatalf("%s: a copy has no loser vector: %+v", d.name, c)
			}
		}
	})
	t.Run("of copy and of original", func(t *testing.T) {
		cs := listed(t, b)
		for _, ino := range []uint64{cs[0].CopyIno, cs[0].OrigIno} {
			got, err := b.db.ConflictsOf(t.Context(), ino)
			if err != nil || len(got) != 1 || got[0].CopyID != cs[0].CopyID {
				t.Fatalf("ConflictsOf(%d) = %+v, %v", ino, got, err)
			}
		}
		root, _ := b.db.GetAttr(RootIno)
		if _, err := b.db.ConflictsOf(t.Context(), root.Ino); !errors.Is(err, ErrNoConflict) {
			t.Fatalf("ConflictsOf(root) = %v, want ErrNoConflict", err)
		}
	})
	t.Run("resolved on one device, on all", func(t *testing.T) {
		cs := listed(t, a)
		if err := a.db.MarkConflictResolved(cs[0].CopyIno); err != nil {
			t.Fatal(err)
		}
		if err := a.db.MarkConflictResolved(cs[0].OrigIno); !errors.Is(err, ErrNoConflict) {
			t.Fatalf("MarkConflictResolved(original) = %v, want ErrNoConflict", err)
		}
		settle(t, devs)
		tr2 := checkConverged(t, devs)
		for _, d := range devs {
			if cs := listed(t, d); len(cs) != 0 {
				t.Fatalf("%s: still listed: %+v", d.name, cs)
			}
		}
		if len(tr2) != len(tr) {
			t.Fatalf("resolving changed the tree:\n%s", dumpTree(tr2))
		}
	})
}

func TestConflictsNewestPolicy(t *testing.T) {
	_, b, devs := conflictPair(t, PolicyNewest)
	tr := checkConverged(t, devs)
	if len(tr) != 1 || tr["/notes.txt"].Hash != hashOf([]byte("from b")) {
		t.Fatalf("want only the winner under its name:\n%s", dumpTree(tr))
	}
	for _, d := range devs {
		cs := listed(t, d)
		if len(cs) != 1 || cs[0].CopyIno != 0 || cs[0].OrigPath != "/notes.txt" || cs[0].Loser.Device != "aaaa" || cs[0].Winner.Device != "bbbb" {
			t.Fatalf("%s: want the loser kept in versions listed: %+v", d.name, cs)
		}
		v, err := d.db.LoserVersion(cs[0])
		if err != nil || v.Content == nil || string(v.Content.Inline) != "from a" {
			t.Fatalf("%s: loser version: %+v %v", d.name, v, err)
		}
		vs, err := d.db.Versions(cs[0].OrigID)
		if err != nil {
			t.Fatal(err)
		}
		concurrent := 0
		for _, v := range vs {
			if v.Concurrent {
				concurrent++
			}
		}
		if concurrent != 1 {
			t.Fatalf("%s: versions: want the loser marked concurrent: %+v", d.name, vs)
		}
	}
	t.Run("superseded on one device, settled on all", func(t *testing.T) {
		cs := listed(t, b)
		if err := b.db.Supersede(cs[0].OrigIno); err != nil {
			t.Fatal(err)
		}
		settle(t, devs)
		if tr2 := checkConverged(t, devs); dumpTree(tr2) != dumpTree(tr) {
			t.Fatalf("a new version of the same content changed the tree:\n%s", dumpTree(tr2))
		}
		for _, d := range devs {
			if cs := listed(t, d); len(cs) != 0 {
				t.Fatalf("%s: still listed: %+v", d.name, cs)
			}
		}
	})
	t.Run("a later edit settles it too", func(t *testing.T) {
		a2, _, devs2 := conflictPair(t, PolicyNewest)
		a2.mustWrite("/notes.txt", "merged by hand")
		settle(t, devs2)
		for _, d := range devs2 {
			if cs := listed(t, d); len(cs) != 0 {
				t.Fatalf("%s: still listed: %+v", d.name, cs)
			}
		}
	})
}

func TestConflictsNewestStagedLoserGetsCopy(t *testing.T) {
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	devs := newSim(t, clock, "aaaa", "bbbb")
	a, b := devs[0], devs[1]
	for _, d := range devs {
		if err := d.db.SetConflictPolicy(PolicyNewest); err != nil {
			t.Fatal(err)
		}
	}
	a.mustWrite("/notes.txt", "base")
	settle(t, devs)
	a.mustWrite("/notes.txt", "from a, never uploaded")
	clock.advance(3 * time.Second)
	b.mustWrite("/notes.txt", "from b")
	b.upload()
	a.pull(b, -1) // a's edit is still Staged: it is in no version
	settle(t, devs)
	tr := checkConverged(t, devs)
	var found bool
	for p, e := range tr {
		if strings.HasPrefix(p, "/notes (conflict aaaa ") && e.Hash == hashOf([]byte("from a, never uploaded")) {
			found = true
		}
	}
	if !found || tr["/notes.txt"].Hash != hashOf([]byte("from b")) {
		t.Fatalf("want the unsynced loser kept as a copy:\n%s", dumpTree(tr))
	}
	if cs := listed(t, b); len(cs) != 1 || cs[0].CopyIno == 0 {
		t.Fatalf("want the copy listed: %+v", cs)
	}
}

func TestConflictPolicySetting(t *testing.T) {
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	d := newSim(t, clock, "aaaa")[0]
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"", PolicyCopy, true},
		{"newest", PolicyNewest, false},
		{"bogus", PolicyNewest, true},
		{"copy", PolicyCopy, false},
	} {
		t.Run(fmt.Sprintf("set %q", tc.in), func(t *testing.T) {
			err := d.db.SetConflictPolicy(tc.in)
			if tc.err != (err != nil) || tc.err && !errors.Is(err, ErrInvalid) {
				t.Fatalf("SetConflictPolicy(%q) = %v", tc.in, err)
			}
			if got, err := d.db.ConflictPolicy(); err != nil || got != tc.want {
				t.Fatalf("policy %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestConflictCopyInCheckpoint(t *testing.T) {
	_, b, _ := conflictPair(t, PolicyCopy)
	cp, err := b.db.ReadCheckpoint(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range cp.Files {
		if f.ConflictOf != "" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("want one file marked as a conflict copy in the checkpoint, got %d", n)
	}
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)}
	c := newSim(t, clock, "cccc")[0]
	if err := c.db.ApplyCheckpoint(cp); err != nil {
		t.Fatal(err)
	}
	if cs := listed(t, c); len(cs) != 1 || cs[0].CopyIno == 0 || cs[0].OrigPath != "/notes.txt" {
		t.Fatalf("a device started from the checkpoint lists %+v", cs)
	}
}

func TestSupersedeRefusesDirectory(t *testing.T) {
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	d := newSim(t, clock, "aaaa")[0]
	dir, err := d.db.Create(RootIno, "dir", NewNode{Mode: syscall.S_IFDIR | 0o755})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.db.Supersede(dir.Ino); !errors.Is(err, ErrIsDir) {
		t.Fatalf("Supersede(dir) = %v, want ErrIsDir", err)
	}
	if err := d.db.Supersede(9999); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Supersede(missing) = %v, want ErrNotExist", err)
	}
}

// TestConflictsNewestStagedWinner: the later edit is still unsynced when
// the earlier one arrives (a device reconnecting pulls before it uploads).
// Its record must not claim to have seen the loser, so that every device
// lists the loser, and a later resolve there settles it everywhere.
func TestConflictsNewestStagedWinner(t *testing.T) {
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	devs := newSim(t, clock, "aaaa", "bbbb", "cccc")
	a, b := devs[0], devs[1]
	for _, d := range devs {
		if err := d.db.SetConflictPolicy(PolicyNewest); err != nil {
			t.Fatal(err)
		}
	}
	a.mustWrite("/notes.txt", "base")
	settle(t, devs)
	a.mustWrite("/notes.txt", "from a")
	a.upload()
	clock.advance(3 * time.Second)
	b.mustWrite("/notes.txt", "from b") // Staged
	b.pull(a, -1)
	settle(t, devs)
	tr := checkConverged(t, devs)
	if len(tr) != 1 || tr["/notes.txt"].Hash != hashOf([]byte("from b")) {
		t.Fatalf("want only the winner:\n%s", dumpTree(tr))
	}
	for _, d := range devs {
		if cs := listed(t, d); len(cs) != 1 || cs[0].Loser.Device != "aaaa" || cs[0].CopyIno != 0 {
			t.Fatalf("%s: want a's version listed as the loser: %+v", d.name, cs)
		}
	}
	t.Run("settled on the winner's device, settled everywhere", func(t *testing.T) {
		cs := listed(t, b)
		if err := b.db.Supersede(cs[0].OrigIno); err != nil {
			t.Fatal(err)
		}
		settle(t, devs)
		checkConverged(t, devs)
		for _, d := range devs {
			if cs := listed(t, d); len(cs) != 0 {
				t.Fatalf("%s: still listed: %+v", d.name, cs)
			}
		}
	})
}
