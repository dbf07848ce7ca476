package index

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// arrival orders for the table tests: which device's journal another
// device applies first.
var arrivalOrders = []struct {
	name     string
	aFirst   bool // the third device (or b) applies a's journal before b's
	devices  int
	laterDir bool // the directory's entry is the later one (else the file's)
}{
	{"two devices, a's first, file later", true, 2, false},
	{"two devices, b's first, file later", false, 2, false},
	{"two devices, a's first, directory later", true, 2, true},
	{"two devices, b's first, directory later", false, 2, true},
	{"three devices, a's first, file later", true, 3, false},
	{"three devices, b's first, file later", false, 3, false},
	{"three devices, a's first, directory later", true, 3, true},
	{"three devices, b's first, directory later", false, 3, true},
}

// exchange uploads a's and b's changes and has every device apply them in
// the order asked, then settles.
func exchange(t *testing.T, devs []*simDevice, aFirst bool) {
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
	for _, c := range devs[2:] {
		if aFirst {
			c.pull(a, -1)
			c.pull(b, -1)
		} else {
			c.pull(b, -1)
			c.pull(a, -1)
		}
	}
	settle(t, devs)
}

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

// TestFileVersusDirectory checks that a directory keeps its name against
// a file made concurrently under it, whichever is later and whatever
// order devices see them in.
func TestFileVersusDirectory(t *testing.T) {
	for _, tc := range arrivalOrders {
		t.Run(tc.name, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, []string{"aaaa", "bbbb", "cccc"}[:tc.devices]...)
			a, b := devs[0], devs[1]
			mkdir := func() {
				dir := mustCreate(t, b.db, RootIno, "x", syscall.S_IFDIR|0o755)
				if err := b.write(dir.Ino, "inside", []byte("b's")); err != nil {
					t.Fatal(err)
				}
			}
			if tc.laterDir {
				a.mustWrite("/x", "a's file")
				clock.advance(time.Second)
				mkdir()
			} else {
				mkdir()
				clock.advance(time.Second)
				a.mustWrite("/x", "a's file")
			}
			exchange(t, devs, tc.aFirst)
			tr := checkConverged(t, devs)
			// The directory keeps the name whichever entry is later; the
			// file is linked again under a conflict name from its own
			// entry (a's device and time).
			stamp := "2026-01-02 030405"
			if !tc.laterDir {
				stamp = "2026-01-02 030406"
			}
			want := fmt.Sprintf("/x (conflict aaaa %s) /x/ /x/inside", stamp)
			if got := paths(tr); got != want {
				t.Fatalf("tree %s, want %s", got, want)
			}
			if tr[fmt.Sprintf("/x (conflict aaaa %s)", stamp)].Hash != hashOf([]byte("a's file")) {
				t.Fatalf("the file's content is not in its conflict copy:\n%s", dumpTree(tr))
			}
		})
	}
}

// TestDirectoriesMerge checks that two directories made concurrently under
// one name merge, recursively, with a clashing file settled as a
// conflict copy, whatever order devices see them in.
func TestDirectoriesMerge(t *testing.T) {
	for _, tc := range arrivalOrders {
		t.Run(tc.name, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, []string{"aaaa", "bbbb", "cccc"}[:tc.devices]...)
			a, b := devs[0], devs[1]
			// Both make x with a file of their own, a file of one name
			// (which clashes) and a subdirectory of one name (which merges
			// too).
			first, second := a, b
			if tc.laterDir {
				first, second = b, a
			}
			for i, d := range []*simDevice{first, second} {
				x := mustCreate(t, d.db, RootIno, "x", syscall.S_IFDIR|0o755)
				sub := mustCreate(t, d.db, x.Ino, "sub", syscall.S_IFDIR|0o755)
				for _, w := range []struct {
					dir  uint64
					name string
				}{{x.Ino, "only-" + d.name}, {x.Ino, "same"}, {sub.Ino, "deep-" + d.name}} {
					if err := d.write(w.dir, w.name, []byte(d.name+" "+w.name)); err != nil {
						t.Fatal(err)
					}
				}
				if i == 0 {
					clock.advance(time.Second)
				}
			}
			exchange(t, devs, tc.aFirst)
			tr := checkConverged(t, devs)
			// second's entries are later: its "same" keeps the name, and
			// first's is linked again under a conflict name.
			want := fmt.Sprintf("/x/ /x/only-aaaa /x/only-bbbb /x/same /x/same (conflict %s 2026-01-02 030405) /x/sub/ /x/sub/deep-aaaa /x/sub/deep-bbbb", first.name)
			if got := paths(tr); got != want {
				t.Fatalf("tree %s\nwant %s", got, want)
			}
			if tr["/x/same"].Hash != hashOf([]byte(second.name+" same")) {
				t.Fatalf("the later file does not keep the name:\n%s", dumpTree(tr))
			}
		})
	}
}

// TestMergeLateWriteIntoLosingDirectory checks that an entry written into
// the directory that lost a merge, by a device that had not seen the
// merge, ends up in the merged directory.
func TestMergeLateWriteIntoLosingDirectory(t *testing.T) {
	for _, aFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("a's first %v", aFirst), func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, "aaaa", "bbbb", "cccc")
			a, b, c := devs[0], devs[1], devs[2]
			mustCreate(t, a.db, RootIno, "x", syscall.S_IFDIR|0o755)
			clock.advance(time.Second)
			mustCreate(t, b.db, RootIno, "x", syscall.S_IFDIR|0o755)
			a.upload()
			b.upload()
			// c merges a's x (the loser) into b's.
			if aFirst {
				c.pull(a, -1)
				c.pull(b, -1)
			} else {
				c.pull(b, -1)
				c.pull(a, -1)
			}
			// a, not having seen b's x, writes into its own.
			a.mustWrite("/x/late", "late")
			a.upload()
			c.pull(a, -1)
			settle(t, devs)
			tr := checkConverged(t, devs)
			if got, want := paths(tr), "/x/ /x/late"; got != want {
				t.Fatalf("tree %s, want %s", got, want)
			}
		})
	}
}
