package index

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The directory rules of DESIGN.md's "Sync between devices": a directory
// keeps its name against a file made concurrently under it, and two
// directories made under one name merge. Each case is run in every order a
// third device can apply the two other devices' batches in, with a fourth
// device started from the third's checkpoint at every step of that order;
// every device must end with the same tree, and nothing written is lost.

// dirScenario makes a's and b's changes (uploading where a batch should
// end) without either seeing the other's.
type dirScenario struct {
	name  string
	run   func(t *testing.T, clock *simClock, a, b *simDevice)
	want  string // the settled tree's paths (paths()), directories ending in "/"; "" to check only convergence and check
	check func(t *testing.T, tr map[string]simEntry)
}

// paths renders a tree's paths in order, directories with a trailing "/".
func paths(tr map[string]simEntry) string {
	var names []string
	for p, e := range tr {
		if e.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			p += "/"
		}
		names = append(names, p)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// interleavings returns every order of na batches of a (false) and nb of b
// (true) that keeps each device's own order.
func interleavings(na, nb int) [][]bool {
	if na == 0 && nb == 0 {
		return [][]bool{nil}
	}
	var out [][]bool
	if na > 0 {
		for _, rest := range interleavings(na-1, nb) {
			out = append(out, append([]bool{false}, rest...))
		}
	}
	if nb > 0 {
		for _, rest := range interleavings(na, nb-1) {
			out = append(out, append([]bool{true}, rest...))
		}
	}
	return out
}

func runDirScenario(t *testing.T, sc dirScenario) {
	setup := func() (*simClock, []*simDevice) {
		clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		devs := newSim(t, clock, "aaaa", "bbbb", "cccc", "boot")
		sc.run(t, clock, devs[0], devs[1])
		devs[0].upload()
		devs[1].upload()
		return clock, devs
	}
	_, devs := setup()
	na, nb := len(devs[0].journal), len(devs[1].journal)
	for _, order := range interleavings(na, nb) {
		for cpAt := 0; cpAt <= len(order); cpAt++ {
			var b strings.Builder
			for _, o := range order {
				b.WriteString(map[bool]string{false: "a", true: "b"}[o])
			}
			t.Run(fmt.Sprintf("c applies %s, checkpoint after %d", b.String(), cpAt), func(t *testing.T) {
				_, devs := setup()
				a, bd, c, boot := devs[0], devs[1], devs[2], devs[3]
				for i := 0; i <= len(order); i++ {
					if i == cpAt {
						bootFrom(t, c, boot)
					}
					if i == len(order) {
						break
					}
					from := a
					if order[i] {
						from = bd
					}
					c.pull(from, 1)
				}
				// a and b learn of each other in the order c began with.
				if order[0] {
					a.pull(bd, -1)
					bd.pull(a, -1)
				} else {
					bd.pull(a, -1)
					a.pull(bd, -1)
				}
				settle(t, devs)
				tr := checkConverged(t, devs)
				for _, d := range devs[1:] {
					if d := diffLines(devs[0].entryState(), d.entryState()); d != "" {
						t.Fatalf("entries differ:\n%s", d)
					}
				}
				if got := paths(tr); sc.want != "" && got != sc.want {
					t.Fatalf("tree %s\nwant %s\n%s", got, sc.want, dumpTree(tr))
				}
				if sc.check != nil {
					sc.check(t, tr)
				}
			})
		}
	}
}

// hasContent fails unless some file of tr holds content s.
func hasContent(t *testing.T, tr map[string]simEntry, s string) {
	t.Helper()
	if contents(tr)[hashOf([]byte(s))] == 0 {
		t.Fatalf("content %q lost:\n%s", s, dumpTree(tr))
	}
}

func mkdirWith(t *testing.T, d *simDevice, dir string, files ...string) {
	t.Helper()
	parent, name := "/", strings.TrimPrefix(dir, "/")
	if i := strings.LastIndexByte(dir, '/'); i > 0 {
		parent, name = dir[:i], dir[i+1:]
	}
	p, err := d.lookupPath(parent)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, d.db, p.Ino, name, syscall.S_IFDIR|0o755)
	for _, f := range files {
		d.mustWrite(dir+"/"+f, d.name+" "+f)
	}
}

func TestDirectoryBeatsFile(t *testing.T) {
	for _, sc := range []dirScenario{{
		name: "file later",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, b, "/x", "in")
			clock.advance(time.Second)
			a.mustWrite("/x", "a's file")
		},
		want:  "/x (conflict aaaa 2026-01-02 030406) /x/ /x/in",
		check: func(t *testing.T, tr map[string]simEntry) { hasContent(t, tr, "a's file") },
	}, {
		name: "directory later",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			a.mustWrite("/x", "a's file")
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "in")
		},
		want:  "/x (conflict aaaa 2026-01-02 030405) /x/ /x/in",
		check: func(t *testing.T, tr map[string]simEntry) { hasContent(t, tr, "a's file") },
	}, {
		// b's later rename supersedes b's directory at x. Where the
		// directory came first the file was linked again under a conflict
		// name (a journaled relink, which stays); elsewhere it kept x.
		name: "directory renamed away",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, b, "/x", "in")
			b.upload()
			clock.advance(time.Second)
			a.mustWrite("/x", "a's file")
			clock.advance(time.Second)
			if err := b.db.Rename(RootIno, "x", RootIno, "y", 0); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, tr map[string]simEntry) {
			hasContent(t, tr, "a's file")
			if tr["/y/in"].Hash != hashOf([]byte("bbbb in")) {
				t.Fatalf("b's directory did not move:\n%s", dumpTree(tr))
			}
		},
	}, {
		// a's deletion supersedes a's file: the directory keeps x, the
		// file is gone.
		name: "file deleted",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			a.mustWrite("/x", "a's file")
			a.upload()
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "in")
			clock.advance(time.Second)
			if err := a.db.Unlink(RootIno, "x"); err != nil {
				t.Fatal(err)
			}
		},
		want: "/x/ /x/in",
	}, {
		// The directory is removed after the file was made (as for a
		// rename, the file may also keep a conflict name).
		name: "directory deleted",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mustCreate(t, b.db, RootIno, "x", syscall.S_IFDIR|0o755)
			b.upload()
			clock.advance(time.Second)
			a.mustWrite("/x", "a's file")
			a.upload()
			clock.advance(time.Second)
			if err := b.db.Rmdir(RootIno, "x"); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, tr map[string]simEntry) { hasContent(t, tr, "a's file") },
	}} {
		t.Run(sc.name, func(t *testing.T) { runDirScenario(t, sc) })
	}
}

func TestDirectoriesMerge(t *testing.T) {
	// Both make x with a file of their own, a file of one name (which
	// clashes: the later keeps the name, the other gets a conflict name)
	// and a subdirectory of one name (which merges too).
	both := func(t *testing.T, clock *simClock, first, second *simDevice) {
		for i, d := range []*simDevice{first, second} {
			mkdirWith(t, d, "/x", "only-"+d.name, "same")
			mkdirWith(t, d, "/x/sub", "deep-"+d.name)
			if i == 0 {
				clock.advance(time.Second)
			}
		}
	}
	for _, sc := range []dirScenario{{
		name: "a's first",
		run:  func(t *testing.T, clock *simClock, a, b *simDevice) { both(t, clock, a, b) },
		want: "/x/ /x/only-aaaa /x/only-bbbb /x/same /x/same (conflict aaaa 2026-01-02 030405) /x/sub/ /x/sub/deep-aaaa /x/sub/deep-bbbb",
		check: func(t *testing.T, tr map[string]simEntry) {
			if tr["/x/same"].Hash != hashOf([]byte("bbbb same")) {
				t.Fatalf("the later file does not keep the name:\n%s", dumpTree(tr))
			}
		},
	}, {
		name: "b's first",
		run:  func(t *testing.T, clock *simClock, a, b *simDevice) { both(t, clock, b, a) },
		want: "/x/ /x/only-aaaa /x/only-bbbb /x/same /x/same (conflict bbbb 2026-01-02 030405) /x/sub/ /x/sub/deep-aaaa /x/sub/deep-bbbb",
	}, {
		// a writes into its own x after uploading it, not having seen
		// b's: the entry ends in the merged directory.
		name: "late write into the losing directory",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/x", "one")
			a.upload()
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "two")
			clock.advance(time.Second)
			a.mustWrite("/x/late", "late")
		},
		want: "/x/ /x/late /x/one /x/two",
	}, {
		// a renames its x away before it sees b's: nothing merges, and
		// x and y each keep their own entries.
		name: "losing directory renamed away",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/x", "one")
			a.upload()
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "two")
			clock.advance(time.Second)
			if err := a.db.Rename(RootIno, "x", RootIno, "y", 0); err != nil {
				t.Fatal(err)
			}
		},
		want: "/x/ /x/two /y/ /y/one",
	}, {
		// b renames its x (the winner) away before it sees a's: a's x
		// keeps the name.
		name: "winning directory renamed away",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/x", "one")
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "two")
			b.upload()
			clock.advance(time.Second)
			if err := b.db.Rename(RootIno, "x", RootIno, "y", 0); err != nil {
				t.Fatal(err)
			}
		},
		want: "/x/ /x/one /y/ /y/two",
	}, {
		// a deletes its x (empty) before it sees b's: b's x stays, with
		// its entry.
		name: "losing directory deleted",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mustCreate(t, a.db, RootIno, "x", syscall.S_IFDIR|0o755)
			a.upload()
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "two")
			clock.advance(time.Second)
			if err := a.db.Rmdir(RootIno, "x"); err != nil {
				t.Fatal(err)
			}
		},
		want: "/x/ /x/two",
	}, {
		// b deletes its x (empty, the winner) before it sees a's: a's x
		// stays, with its entry. Where a's x was merged into b's, the
		// deletion had not seen a's entry there: it is not b's x's own,
		// and does not keep b's x.
		name: "winning directory deleted",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/x", "one")
			a.upload()
			clock.advance(time.Second)
			mustCreate(t, b.db, RootIno, "x", syscall.S_IFDIR|0o755)
			b.upload()
			clock.advance(time.Second)
			if err := b.db.Rmdir(RootIno, "x"); err != nil {
				t.Fatal(err)
			}
		},
		want: "/x/ /x/one",
	}, {
		// a sees the merge, empties x and removes it: both directories
		// shown at x go, not only the one whose entry won the name.
		name: "merged directory removed",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/x", "one")
			a.upload()
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "two")
			b.upload()
			a.pull(b, -1)
			clock.advance(time.Second)
			x, _ := a.lookupPath("/x")
			for _, n := range []string{"one", "two"} {
				if err := a.db.Unlink(x.Ino, n); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.db.Rmdir(RootIno, "x"); err != nil {
				t.Fatal(err)
			}
		},
		want: "",
		check: func(t *testing.T, tr map[string]simEntry) {
			if len(tr) != 0 {
				t.Fatalf("want nothing left:\n%s", dumpTree(tr))
			}
		},
	}} {
		t.Run(sc.name, func(t *testing.T) { runDirScenario(t, sc) })
	}
}

// TestMergeWithUnsentChange: a renames an entry of its x, and before that
// is sent learns that b's x (later) won the name, so a's x merges into b's,
// where b has an entry of the renamed entry's old name. The rename that a
// then sends must remove a's entry, not name b's file, which shows at
// that name in the merged directory.
func TestMergeWithUnsentChange(t *testing.T) {
	for _, o := range pullOrders {
		t.Run(o.name, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, "aaaa", "bbbb", "cccc")
			a, b, c := devs[0], devs[1], devs[2]
			mkdirWith(t, a, "/x", "f")
			a.upload()
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "f")
			b.upload()
			clock.advance(time.Second)
			x, _ := a.lookupPath("/x")
			if err := a.db.Rename(x.Ino, "f", x.Ino, "g", 0); err != nil {
				t.Fatal(err)
			}
			a.pull(b, -1) // the merge, with a's rename unsent
			a.upload()
			pullBoth(c, a, b, o.aFirst)
			settle(t, devs)
			tr := checkConverged(t, devs)
			// c may have seen a's f and b's f clash in the merged x before
			// the rename came: a's file then also keeps a conflict name.
			if got := paths(tr); got != "/x/ /x/f /x/g" && got != "/x/ /x/f /x/f (conflict aaaa 2026-01-02 030405) /x/g" {
				t.Fatalf("tree %s\n%s", got, dumpTree(tr))
			}
			if tr["/x/f"].Hash != hashOf([]byte("bbbb f")) || tr["/x/g"].Hash != hashOf([]byte("aaaa f")) {
				t.Fatalf("wrong files:\n%s", dumpTree(tr))
			}
			// Every device holds the same versions and claims of x/f.
			for _, d := range devs[1:] {
				if d := diffLines(devs[0].entryState(), d.entryState()); d != "" {
					t.Fatalf("entries differ:\n%s", d)
				}
			}
		})
	}
}

// entryState renders a device's entry versions and the claims on versions
// no other supersedes, by file ID.
func (d *simDevice) entryState() string {
	var lines []string
	for _, l := range strings.Split(d.settledState(), "\n") {
		if strings.HasPrefix(l, "entry ") || strings.HasPrefix(l, "claim ") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// TestRenameCycle: a moves p into q while b moves q into p. Both cannot
// hold: one move loses (its directory is linked where it can be, never
// below itself), every device ends with the same tree, and nothing in
// either directory is lost.
func TestRenameCycle(t *testing.T) {
	runDirScenario(t, dirScenario{
		name: "p into q, q into p",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/p", "in-p")
			mkdirWith(t, a, "/q", "in-q")
			a.upload()
			b.pull(a, -1)
			clock.advance(time.Second)
			q, _ := a.lookupPath("/q")
			if err := a.db.Rename(RootIno, "p", q.Ino, "p", 0); err != nil {
				t.Fatal(err)
			}
			clock.advance(time.Second)
			p, _ := b.lookupPath("/p")
			if err := b.db.Rename(RootIno, "q", p.Ino, "q", 0); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, tr map[string]simEntry) {
			hasContent(t, tr, "aaaa in-p")
			hasContent(t, tr, "aaaa in-q")
			dirs := 0
			for _, e := range tr {
				if e.Mode&syscall.S_IFMT == syscall.S_IFDIR {
					dirs++
				}
			}
			if dirs != 2 {
				t.Fatalf("want both directories once:\n%s", dumpTree(tr))
			}
		},
	})
}

// TestDeletedDirectoryWrittenInto: b deletes the directory d (empty on
// b) while a writes a file into it and changes it again. The new entries
// survive with the directory, on every device, also where the deletion
// came first and the directory was gone when a's entries arrived.
func TestDeletedDirectoryWrittenInto(t *testing.T) {
	runDirScenario(t, dirScenario{
		name: "write into a deleted directory",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mustCreate(t, a.db, RootIno, "d", syscall.S_IFDIR|0o755)
			a.upload()
			b.pull(a, -1)
			clock.advance(time.Second)
			a.mustWrite("/d/f", "a's file")
			a.upload()
			clock.advance(time.Second)
			a.mustWrite("/d/g", "a's other file")
			clock.advance(time.Second)
			if err := b.db.Rmdir(RootIno, "d"); err != nil {
				t.Fatal(err)
			}
		},
		want: "/d/ /d/f /d/g",
	})
}

// TestMergeWithUnsentRemoval: a removes a file of its x and, before that
// is sent, learns that b's x (later) won the name, so a's x merges into
// b's, where b has a file of that name (which b has moved away meanwhile,
// unsent). a's removal must be sent as the removal it is: sent naming b's
// file, it claimed that file at a's x on the devices that got it, a hard
// link that a, which made the removal, never had.
func TestMergeWithUnsentRemoval(t *testing.T) {
	runDirScenario(t, dirScenario{
		name: "removal in the losing directory",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/x", "f")
			a.upload()
			clock.advance(time.Second)
			mkdirWith(t, b, "/x", "f")
			b.upload()
			clock.advance(time.Second)
			xb, _ := b.lookupPath("/x")
			if err := b.db.Rename(xb.Ino, "f", RootIno, "g", 0); err != nil {
				t.Fatal(err)
			}
			clock.advance(time.Second)
			x, _ := a.lookupPath("/x")
			if err := a.db.Unlink(x.Ino, "f"); err != nil {
				t.Fatal(err)
			}
			a.pull(b, -1) // the merge, with a's removal unsent
		},
		want: "/g /x/",
	})
}

// TestMoveInMergedDirectory: a's x merges into b's, and a then moves a
// subdirectory that came from its own x (s, named by a's x's entry) to t,
// while b writes a file s in its x later still. The directory keeps the
// later of its two names (t), wherever it is linked from: the version of
// the name it holds is that of the merged directory's entry that names
// it, not the version of the same name in the directory it shows in
// (b's s, later than a's move).
func TestMoveInMergedDirectory(t *testing.T) {
	runDirScenario(t, dirScenario{
		name: "move a merged-in subdirectory",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/x")
			mkdirWith(t, a, "/x/s", "in")
			a.upload()
			clock.advance(time.Second)
			mkdirWith(t, b, "/x")
			b.upload()
			a.pull(b, -1) // the merge
			clock.advance(time.Second)
			x, _ := a.lookupPath("/x")
			if err := a.db.Rename(x.Ino, "s", x.Ino, "t", 0); err != nil {
				t.Fatal(err)
			}
			clock.advance(time.Second)
			b.mustWrite("/x/s", "b's s")
		},
		check: func(t *testing.T, tr map[string]simEntry) {
			if tr["/x/t/in"].Hash != hashOf([]byte("aaaa in")) || tr["/x/s"].Mode&syscall.S_IFMT == syscall.S_IFDIR {
				t.Fatalf("the directory is not at t alone:\n%s", dumpTree(tr))
			}
			hasContent(t, tr, "b's s")
		},
	})
}

// TestRelinkIntoDeletedDirectory: a and b change the file d/f at once;
// b's version loses and b keeps it as a conflict copy linked in d (a
// relink, which carries no version of d), while a, not having seen b's
// version, removes f and deletes d. b's version survives, and every device
// ends with the same tree, whether d's deletion or b's relink arrives
// first.
func TestRelinkIntoDeletedDirectory(t *testing.T) {
	runDirScenario(t, dirScenario{
		name: "relink into a directory deleted elsewhere",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			mkdirWith(t, a, "/d", "f")
			a.upload()
			b.pull(a, -1)
			clock.advance(time.Second)
			b.mustWrite("/d/f", "b's f")
			b.upload()
			clock.advance(time.Second)
			a.mustWrite("/d/f", "a's f")
			a.upload()
			b.pull(a, -1) // b's version is kept as a copy, linked in d
			clock.advance(time.Second)
			d, _ := a.lookupPath("/d")
			if err := a.db.Unlink(d.Ino, "f"); err != nil {
				t.Fatal(err)
			}
			if err := a.db.Rmdir(RootIno, "d"); err != nil {
				t.Fatal(err)
			}
		},
		check: func(t *testing.T, tr map[string]simEntry) { hasContent(t, tr, "b's f") },
	})
}

// TestConflictNameGivenUp: a's file f is later than b's, so b's file
// loses the name and is linked again under a conflict name; then b,
// which has not seen a's, moves its file away and back, and now its
// later entry takes f from a's. A device that saw the conflict first (c,
// in some orders) linked b's file under a conflict name (a relink, with
// no version of its own); once b's file holds f again, that name is not
// needed: every device ends with b's file at f alone, and a's under a
// conflict name.
func TestConflictNameGivenUp(t *testing.T) {
	runDirScenario(t, dirScenario{
		name: "conflict resolved by a later entry",
		run: func(t *testing.T, clock *simClock, a, b *simDevice) {
			b.mustWrite("/f", "b's f")
			b.upload()
			clock.advance(time.Second)
			a.mustWrite("/f", "a's f")
			clock.advance(time.Second)
			for _, mv := range [][2]string{{"f", "g"}, {"g", "f"}} {
				if err := b.db.Rename(RootIno, mv[0], RootIno, mv[1], 0); err != nil {
					t.Fatal(err)
				}
			}
		},
		want: "/f /f (conflict aaaa 2026-01-02 030406)",
		check: func(t *testing.T, tr map[string]simEntry) {
			if tr["/f"].Hash != hashOf([]byte("b's f")) {
				t.Fatalf("b's file does not hold f:\n%s", dumpTree(tr))
			}
		},
	})
}
