package index

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nameClash makes two devices that each make something at /x.md (a
// file, or a directory holding a file) without seeing the other's, a
// first and b a second later, then settles them.
func nameClash(t *testing.T, aDir, bDir bool) (a, b *simDevice, devs []*simDevice) {
	t.Helper()
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	devs = newSim(t, clock, "aaaa", "bbbb")
	for i, d := range devs {
		if []bool{aDir, bDir}[i] {
			dir := mustCreate(t, d.db, RootIno, "x.md", syscall.S_IFDIR|0o755)
			if err := d.write(dir.Ino, "in.txt", []byte("in "+d.name)); err != nil {
				t.Fatal(err)
			}
		} else {
			d.mustWrite("/x.md", "from "+d.name)
		}
		clock.advance(time.Second)
	}
	settle(t, devs)
	return devs[0], devs[1], devs
}

// nameConflictsOf returns d's conflicts of KindName, and fails the test
// if any other kind is listed.
func nameConflictsOf(t *testing.T, d *simDevice) []Conflict {
	t.Helper()
	var out []Conflict
	for _, c := range listed(t, d) {
		if c.Kind != KindName {
			t.Fatalf("%s: a %s conflict listed: %+v", d.name, c.Kind, c)
		}
		out = append(out, c)
	}
	return out
}

func TestNameConflictsListed(t *testing.T) {
	for _, tc := range []struct {
		name         string
		aDir, bDir   bool
		copy, orig   string
		loser, what  string
		winnerIsFile bool
	}{
		{"two files", false, false, "/x (conflict aaaa 2026-01-02 030405).md", "/x.md", "aaaa", "two files under one name", true},
		// The directory keeps the name, though the file came later.
		{"file and directory", true, false, "/x (conflict bbbb 2026-01-02 030406).md", "/x.md", "bbbb", "a file lost its name to a directory", false},
		// Two directories merge; their files clash inside.
		{"files in merged directories", true, true, "/x.md/in (conflict aaaa 2026-01-02 030405).txt", "/x.md/in.txt", "aaaa", "two files under one name", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _, devs := nameClash(t, tc.aDir, tc.bDir)
			tr := checkConverged(t, devs)
			for _, d := range devs {
				cs := nameConflictsOf(t, d)
				if len(cs) != 1 {
					t.Fatalf("%s: want one name conflict, got %+v\n%s", d.name, cs, dumpTree(tr))
				}
				c := cs[0]
				if c.CopyPath != tc.copy || c.OrigPath != tc.orig || c.What != tc.what {
					t.Fatalf("%s: %+v", d.name, c)
				}
				if c.Loser.Device != tc.loser || c.Winner == nil || c.Winner.Device == tc.loser || c.Winner.HLC == 0 {
					t.Fatalf("%s: sides %+v winner %+v", d.name, c.Loser, c.Winner)
				}
				// The name says the second; the listing has the version's time.
				if sec := time.Unix(0, c.Loser.HLC).UTC().Format("2006-01-02 150405"); !strings.Contains(c.CopyPath, sec) {
					t.Fatalf("%s: loser time %s is not the name's", d.name, sec)
				}
				for _, ino := range []uint64{c.CopyIno, c.OrigIno} {
					if got, err := d.db.ConflictsOf(t.Context(), ino); err != nil || len(got) != 1 || got[0].CopyID != c.CopyID {
						t.Fatalf("%s: ConflictsOf(%d) = %+v, %v", d.name, ino, got, err)
					}
				}
			}
			// Kept on one device as it is: no longer listed anywhere, and
			// nothing moves.
			c := nameConflictsOf(t, a)[0]
			parent, name, err := a.db.FirstName(c.CopyIno)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.db.KeepConflictName(parent, name); err != nil {
				t.Fatal(err)
			}
			if err := a.db.KeepConflictName(parent, name); !errors.Is(err, ErrNoConflict) {
				t.Fatalf("kept twice: %v", err)
			}
			settle(t, devs)
			tr2 := checkConverged(t, devs)
			for _, d := range devs {
				if cs := listed(t, d); len(cs) != 0 {
					t.Fatalf("%s: still listed: %+v", d.name, cs)
				}
			}
			if dumpTree(tr2) != dumpTree(tr) {
				t.Fatalf("keeping the name changed the tree:\n%s\nwas\n%s", dumpTree(tr2), dumpTree(tr))
			}
		})
	}
}

func TestNameConflictsNotListed(t *testing.T) {
	t.Run("a file a user named like a conflict copy", func(t *testing.T) {
		clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		devs := newSim(t, clock, "aaaa", "bbbb")
		devs[0].mustWrite("/x.md", "x")
		devs[0].mustWrite("/x (conflict aaaa 2026-01-02 030405).md", "mine")
		settle(t, devs)
		for _, d := range devs {
			if cs := listed(t, d); len(cs) != 0 {
				t.Fatalf("%s: %+v", d.name, cs)
			}
		}
		p, _ := devs[0].lookupPath("/")
		if err := devs[0].db.KeepConflictName(p.Ino, "x (conflict aaaa 2026-01-02 030405).md"); !errors.Is(err, ErrNoConflict) {
			t.Fatalf("KeepConflictName of a user's name: %v", err)
		}
		if err := devs[0].db.KeepConflictName(p.Ino, "nothing here"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("KeepConflictName of a missing name: %v", err)
		}
	})
	t.Run("a content conflict's copy is listed once, as content", func(t *testing.T) {
		_, _, devs := conflictPair(t, PolicyCopy)
		for _, d := range devs {
			cs := listed(t, d)
			if len(cs) != 1 || cs[0].Kind != KindContent {
				t.Fatalf("%s: %+v", d.name, cs)
			}
			p, _ := d.lookupPath("/")
			_, name, _ := d.db.FirstName(cs[0].CopyIno)
			if err := d.db.KeepConflictName(p.Ino, name); !errors.Is(err, ErrNoConflict) {
				t.Fatalf("KeepConflictName of a content copy: %v", err)
			}
		}
	})
	t.Run("renamed or removed by a user", func(t *testing.T) {
		a, b, devs := nameClash(t, false, false)
		c := nameConflictsOf(t, a)[0]
		_, name, _ := a.db.FirstName(c.CopyIno)
		if err := a.db.Rename(RootIno, name, RootIno, "x-old.md", 0); err != nil {
			t.Fatal(err)
		}
		settle(t, devs)
		if cs := listed(t, b); len(cs) != 0 {
			t.Fatalf("renamed, still listed: %+v", cs)
		}
		a2, b2, devs2 := nameClash(t, false, false)
		c = nameConflictsOf(t, b2)[0]
		_, name, _ = b2.db.FirstName(c.CopyIno)
		if err := b2.db.Unlink(RootIno, name); err != nil {
			t.Fatal(err)
		}
		settle(t, devs2)
		if cs := listed(t, a2); len(cs) != 0 {
			t.Fatalf("removed, still listed: %+v", cs)
		}
	})
}
