package index

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// simDevice is one device driven without a store or a mount: its journal
// is a slice of JSON batches, its cache a map, and all content is inline.
type simDevice struct {
	t       *testing.T
	name    string
	db      *DB
	cache   map[CacheKey][]byte
	journal [][]byte // batch seq i+1, as the store would hold it
	clock   *simClock
}

// simClock is a settable clock shared by the devices of one test, so that
// hybrid times (and so winners) are under the test's control.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *simClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSim(t *testing.T, clock *simClock, names ...string) []*simDevice {
	return newSimSeeded(t, clock, 1, names...)
}

// newSimSeeded makes devices whose file IDs come from seed, so that a run
// replays exactly.
func newSimSeeded(t *testing.T, clock *simClock, seed int64, names ...string) []*simDevice {
	t.Helper()
	var out []*simDevice
	for i, n := range names {
		src := mrand.New(mrand.NewSource(seed*1000 + int64(i)))
		db, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{Device: n, Now: clock.Now, Rand: src, GroupWindow: testGroupWindow})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		out = append(out, &simDevice{t: t, name: n, db: db, cache: map[CacheKey][]byte{}, clock: clock})
	}
	return out
}

// lookupPath resolves a slash-separated path from the root.
func (d *simDevice) lookupPath(p string) (Attr, error) {
	a, err := d.db.GetAttr(RootIno)
	if err != nil {
		return a, err
	}
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == "" {
			continue
		}
		if a, err = d.db.Lookup(a.Ino, part); err != nil {
			return a, err
		}
	}
	return a, nil
}

// write replaces the content of the file at parent/name (creating it), as
// fs does: open with truncation, write the cache file, release.
func (d *simDevice) write(parent uint64, name string, data []byte) error {
	a, err := d.db.Lookup(parent, name)
	if errors.Is(err, ErrNotExist) {
		a, err = d.db.Create(parent, name, NewNode{Mode: syscall.S_IFREG | 0o644})
	}
	if err != nil {
		return err
	}
	if !a.IsRegular() {
		return ErrIsDir
	}
	o, err := d.db.Open(a.Ino, true, true)
	if err != nil {
		return err
	}
	d.cache[CacheKey{a.Ino, o.Cver}] = append([]byte(nil), data...)
	d.db.NoteWrite(a.Ino, int64(len(data)), d.clock.Now().UnixNano())
	return d.db.Release(a.Ino, true)
}

func (d *simDevice) mustWrite(path string, data string) {
	d.t.Helper()
	dir, name := filepath.Split("/" + strings.Trim(path, "/"))
	p, err := d.lookupPath(dir)
	if err != nil {
		d.t.Fatalf("%s: write %s: %v", d.name, path, err)
	}
	if err := d.write(p.Ino, name, []byte(data)); err != nil {
		d.t.Fatalf("%s: write %s: %v", d.name, path, err)
	}
}

// content returns a file's bytes: the cache file while Staged, else the
// synced (inline) content.
func (d *simDevice) content(a Attr) ([]byte, error) {
	if a.State == StateStaged {
		b := d.cache[CacheKey{a.Ino, a.Cver}]
		if int64(len(b)) < a.Size {
			b = append(b, make([]byte, a.Size-int64(len(b)))...)
		}
		return b[:a.Size], nil
	}
	c, err := d.db.ContentOf(a.Ino, a.Cver)
	if err != nil {
		return nil, err
	}
	if int64(len(c.Inline)) != c.Size {
		return nil, fmt.Errorf("inode %d: inline content %d bytes, size %d", a.Ino, len(c.Inline), c.Size)
	}
	return c.Inline, nil
}

// upload seals everything sendable into the device's journal, faking the
// uploader: Staged content goes inline.
func (d *simDevice) upload() {
	d.t.Helper()
	for i := 0; i < 100; i++ {
		ups, err := d.db.StagedUploads(1000)
		if err != nil {
			d.t.Fatal(err)
		}
		m := map[uint64]Uploaded{}
		for _, u := range ups {
			a, err := d.db.GetAttr(u.Ino)
			if err != nil {
				d.t.Fatal(err)
			}
			b, err := d.content(a)
			if err != nil {
				d.t.Fatal(err)
			}
			m[u.Ino] = Uploaded{Wgen: u.Wgen, Content: Content{Size: u.Size, Inline: b}}
		}
		b, err := d.db.SealBatch(1000, m, func(seq uint64, recs []Record) ([]byte, error) {
			return json.Marshal(recs)
		})
		if err != nil {
			d.t.Fatal(err)
		}
		if b.Seq == 0 {
			return
		}
		if b.Seq != uint64(len(d.journal)+1) {
			d.t.Fatalf("%s: batch %d after %d", d.name, b.Seq, len(d.journal))
		}
		d.journal = append(d.journal, b.Body)
		if err := d.db.MarkSent(b.Seq); err != nil {
			d.t.Fatal(err)
		}
	}
	d.t.Fatalf("%s: outbox never drained", d.name)
}

// pull applies up to n (all if n < 0) of other's batches past the
// watermark; it reports whether any were applied.
func (d *simDevice) pull(other *simDevice, n int) bool {
	d.t.Helper()
	wm, err := d.db.Watermark(other.name)
	if err != nil {
		d.t.Fatal(err)
	}
	any := false
	for seq := wm + 1; seq <= uint64(len(other.journal)) && n != 0; seq++ {
		var recs []Record
		if err := json.Unmarshal(other.journal[seq-1], &recs); err != nil {
			d.t.Fatal(err)
		}
		if os.Getenv("SYNCFS_DEBUG") != "" {
			d.t.Logf("%s applies %s/%d: %s", d.name, other.name, seq, other.journal[seq-1])
		}
		if err := d.db.ApplyBatch(other.name, seq, recs); err != nil {
			d.t.Fatalf("%s: apply %s/%d: %v", d.name, other.name, seq, err)
		}
		if os.Getenv("SYNCFS_DEBUG") != "" {
			d.t.Logf("%s tree now:\n%s", d.name, dumpTree(d.tree()))
		}
		any = true
		n--
	}
	return any
}

// settle uploads and pulls on every device until nothing moves.
func settle(t *testing.T, devs []*simDevice) {
	t.Helper()
	for round := 0; round < 50; round++ {
		moved := false
		for _, d := range devs {
			before := len(d.journal)
			d.upload()
			moved = moved || len(d.journal) != before
		}
		for _, d := range devs {
			for _, o := range devs {
				if o != d && d.pull(o, -1) {
					moved = true
				}
			}
		}
		if !moved {
			return
		}
	}
	t.Fatal("devices never settled")
}

// simEntry is one path of a device's tree, as compared across devices.
type simEntry struct {
	FID  string
	Mode uint32
	Hash string // content hash of a regular file
}

func (d *simDevice) tree() map[string]simEntry {
	d.t.Helper()
	out := map[string]simEntry{}
	var walk func(ino uint64, prefix string)
	walk = func(ino uint64, prefix string) {
		ents, err := d.db.ReadDir(ino, 0, 1<<20)
		if err != nil {
			d.t.Fatal(err)
		}
		for _, e := range ents {
			p := prefix + "/" + e.Name
			se := simEntry{FID: e.Attr.FileID, Mode: e.Attr.Mode}
			if e.Attr.IsRegular() {
				b, err := d.content(e.Attr)
				if err != nil {
					d.t.Fatalf("%s: content of %s: %v", d.name, p, err)
				}
				se.Hash = hashOf(b)
			}
			out[p] = se
			if e.Attr.IsDir() {
				walk(e.Attr.Ino, p)
			}
		}
	}
	walk(RootIno, "")
	return out
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}

func dumpTree(m map[string]simEntry) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		e := m[k]
		fmt.Fprintf(&b, "  %q %s %o %s\n", k, e.FID, e.Mode, e.Hash)
	}
	return b.String()
}

// checkConverged fails unless every device has the same tree and sound
// link counts; it returns the tree.
func checkConverged(t *testing.T, devs []*simDevice) map[string]simEntry {
	t.Helper()
	tr, problem := converged(t, devs)
	if problem != "" {
		t.Fatal(problem)
	}
	return tr
}

// converged compares every device's tree and link counts; it returns the
// first device's tree and what differs ("" if nothing).
func converged(t *testing.T, devs []*simDevice) (map[string]simEntry, string) {
	t.Helper()
	first := devs[0].tree()
	for _, d := range devs[1:] {
		if got := d.tree(); dumpTree(got) != dumpTree(first) {
			return first, fmt.Sprintf("trees differ:\n%s:\n%s%s:\n%s%s", devs[0].name, dumpTree(first), d.name, dumpTree(got), debugAll(devs))
		}
	}
	for _, d := range devs {
		if p, err := d.db.Integrity(t.Context()); err != nil || len(p) > 0 {
			return first, fmt.Sprintf("%s: integrity: %v %v", d.name, p, err)
		}
	}
	return first, ""
}

// contents returns the multiset of content hashes in a tree.
func contents(tr map[string]simEntry) map[string]int {
	out := map[string]int{}
	for _, e := range tr {
		if e.Hash != "" {
			out[e.Hash]++
		}
	}
	return out
}

func TestConflictName(t *testing.T) {
	at := time.Date(2026, 11, 23, 11, 33, 52, 0, time.UTC).UnixNano()
	long := strings.Repeat("é", 200) // 400 bytes
	cases := []struct {
		name, in string
		dir      bool
		want     string
	}{
		{"extension", "report.txt", false, "report (conflict aaaa 2026-11-23 113352).txt"},
		{"no extension", "Makefile", false, "Makefile (conflict aaaa 2026-11-23 113352)"},
		{"dot file", ".bashrc", false, ".bashrc (conflict aaaa 2026-11-23 113352)"},
		{"two dots", "a.tar.gz", false, "a.tar (conflict aaaa 2026-11-23 113352).gz"},
		{"directory", "photos.2024", true, "photos.2024 (conflict aaaa 2026-11-23 113352)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ConflictName(c.in, "aaaa", at, c.dir); got != c.want {
				t.Fatalf("got %q want %q", got, c.want)
			}
		})
	}
	t.Run("cut to 255 bytes", func(t *testing.T) {
		for _, in := range []string{long + ".txt", long, "x." + long, strings.Repeat("a", 255)} {
			got := ConflictName(in, "0123456789abcdef", at, false)
			if len(got) > MaxNameLen || !utf8.ValidString(got) || !strings.Contains(got, "(conflict 0123456789abcdef 2026-11-23 113352)") {
				t.Fatalf("%d bytes, valid %v: %q", len(got), utf8.ValidString(got), got)
			}
			if again := ConflictName(in, "0123456789abcdef", at, false); again != got {
				t.Fatal("not deterministic")
			}
		}
	})
}

func TestEditEditConflict(t *testing.T) {
	for _, tc := range []struct {
		name          string
		uploadA       bool // a's edit reaches the store before b's arrives
		uploadB       bool
		aLater        bool // a's edit has the later hybrid time
		openWriterOnA bool // a still has the file open for writing
	}{
		{"both uploaded, remote wins", true, true, false, false},
		{"both uploaded, local wins", true, true, true, false},
		{"local staged loses", false, true, false, false},
		{"local staged wins", false, true, true, false},
		{"local staged loses while open", false, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, "aaaa", "bbbb")
			a, b := devs[0], devs[1]
			a.mustWrite("/notes.txt", "base")
			settle(t, devs)
			orig, _ := a.lookupPath("/notes.txt")
			edit := func(d *simDevice, s string) { d.mustWrite("/notes.txt", s) }
			if tc.aLater {
				edit(b, "from b")
				clock.advance(3 * time.Second)
				edit(a, "from a")
			} else {
				edit(a, "from a")
				clock.advance(3 * time.Second)
				edit(b, "from b")
			}
			var wa Attr
			if tc.openWriterOnA {
				wa, _ = a.lookupPath("/notes.txt")
				if _, err := a.db.Open(wa.Ino, true, false); err != nil {
					t.Fatal(err)
				}
			}
			if tc.uploadA {
				a.upload()
			}
			if tc.uploadB {
				b.upload()
			}
			a.pull(b, -1)
			if tc.openWriterOnA {
				// The open handle now writes to the conflict copy.
				c, err := a.db.GetAttr(wa.Ino)
				if err != nil || c.FileID == orig.FileID || c.State != StateStaged {
					t.Fatalf("open inode after conflict: %+v %v", c, err)
				}
				a.cache[CacheKey{wa.Ino, c.Cver}] = []byte("from a, more")
				a.db.NoteWrite(wa.Ino, 12, clock.Now().UnixNano())
				if err := a.db.Release(wa.Ino, true); err != nil {
					t.Fatal(err)
				}
			}
			settle(t, devs)
			tr := checkConverged(t, devs)
			winner, loser, loserDev := "from b", "from a", "aaaa"
			if tc.aLater {
				winner, loser, loserDev = "from a", "from b", "bbbb"
			}
			if tc.openWriterOnA {
				loser = "from a, more"
			}
			if got := tr["/notes.txt"]; got.Hash != hashOf([]byte(winner)) || got.FID != orig.FileID {
				t.Fatalf("winner: %+v\n%s", got, dumpTree(tr))
			}
			var copies []string
			for p, e := range tr {
				if strings.HasPrefix(p, "/notes (conflict "+loserDev+" ") && strings.HasSuffix(p, ").txt") {
					copies = append(copies, p)
					if e.Hash != hashOf([]byte(loser)) {
						t.Fatalf("copy %s holds the wrong content\n%s", p, dumpTree(tr))
					}
				}
			}
			if len(copies) != 1 || len(tr) != 2 {
				t.Fatalf("want the winner and one copy of %s's version:\n%s", loserDev, dumpTree(tr))
			}
		})
	}
}

func TestEditDeleteConflict(t *testing.T) {
	for _, tc := range []struct {
		name       string
		deleteSent bool // the deletion is journaled before the edit arrives
	}{
		{"deletion sent", true},
		{"deletion unsent", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, "aaaa", "bbbb")
			a, b := devs[0], devs[1]
			a.mustWrite("/f.txt", "base")
			settle(t, devs)
			if err := a.db.Unlink(RootIno, "f.txt"); err != nil {
				t.Fatal(err)
			}
			clock.advance(time.Second)
			b.mustWrite("/f.txt", "edited")
			if tc.deleteSent {
				a.upload()
			}
			b.upload()
			a.pull(b, -1)
			settle(t, devs)
			tr := checkConverged(t, devs)
			if got := tr["/f.txt"]; got.Hash != hashOf([]byte("edited")) || len(tr) != 1 {
				t.Fatalf("edit did not survive:\n%s", dumpTree(tr))
			}
		})
	}
}

func TestCreateCreateConflict(t *testing.T) {
	for _, typ := range []string{"file", "directory"} {
		t.Run(typ, func(t *testing.T) {
			clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			devs := newSim(t, clock, "aaaa", "bbbb")
			a, b := devs[0], devs[1]
			for i, d := range devs {
				if typ == "file" {
					d.mustWrite("/x.md", "from "+d.name)
				} else {
					dir := mustCreate(t, d.db, RootIno, "x.md", syscall.S_IFDIR|0o755)
					if err := d.write(dir.Ino, "in-"+d.name, []byte(d.name)); err != nil {
						t.Fatal(err)
					}
				}
				if i == 0 {
					clock.advance(time.Second)
				}
			}
			a.upload()
			b.upload()
			a.pull(b, -1)
			b.pull(a, -1)
			settle(t, devs)
			tr := checkConverged(t, devs)
			// b created later: b's entry keeps the name; two directories
			// merge (merge.go).
			var names []string
			for p := range tr {
				names = append(names, p)
			}
			sort.Strings(names)
			want := "[/x (conflict aaaa 2026-01-02 030405).md /x.md]"
			if typ == "directory" {
				want = "[/x.md /x.md/in-aaaa /x.md/in-bbbb]"
			}
			if fmt.Sprint(names) != want {
				t.Fatalf("names %v, want %s", names, want)
			}
		})
	}
}

func TestDuplicateConflictCopiesMerge(t *testing.T) {
	// Three devices; a and b conflict, and c sees both versions: every
	// device derives the same copy, and the copies made on several devices
	// are one file.
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	devs := newSim(t, clock, "aaaa", "bbbb", "cccc")
	a, b, c := devs[0], devs[1], devs[2]
	a.mustWrite("/f", "base")
	settle(t, devs)
	a.mustWrite("/f", "a")
	clock.advance(time.Second)
	b.mustWrite("/f", "b")
	a.upload()
	b.upload()
	c.pull(a, -1)
	c.pull(b, -1)
	a.pull(b, -1)
	b.pull(a, -1)
	settle(t, devs)
	tr := checkConverged(t, devs)
	if len(tr) != 2 {
		t.Fatalf("want the file and one copy:\n%s", dumpTree(tr))
	}
}

// debugAll renders every device's state, for a failure message.
func debugAll(devs []*simDevice) string {
	s := ""
	for _, d := range devs {
		s += d.debugDump()
	}
	return s
}

// debugDump renders a device's inodes, tombstones and entry versions, for
// a failure message.
func (d *simDevice) debugDump() string {
	out := d.name + ":\n"
	rows, _ := d.db.settled().Query("SELECT ino, file_id, nlink, state, vv, hlc, author, home_parent, coalesce(home_name, x'') FROM inodes")
	for rows.Next() {
		var ino, nlink, st, hlc int64
		var fid, vv, au, hp string
		var hn []byte
		rows.Scan(&ino, &fid, &nlink, &st, &vv, &hlc, &au, &hp, &hn)
		out += fmt.Sprintf("  ino %d %s nlink %d st %d vv %s hlc %d au %s home %s/%s\n", ino, fid[:min(8, len(fid))], nlink, st, vv, hlc%1e12, au, hp[:min(8, len(hp))], hn)
	}
	rows.Close()
	rows, _ = d.db.settled().Query("SELECT file_id, vv FROM tombstones")
	for rows.Next() {
		var fid, vv string
		rows.Scan(&fid, &vv)
		out += fmt.Sprintf("  tomb %s %s\n", fid[:8], vv)
	}
	rows.Close()
	rows, _ = d.db.settled().Query("SELECT parent_fid, name, vv, hlc, author, child FROM dentry_versions")
	for rows.Next() {
		var p, vv, au, c string
		var n []byte
		var hlc int64
		rows.Scan(&p, &n, &vv, &hlc, &au, &c)
		out += fmt.Sprintf("  dv %s/%s %s %d %s -> %s\n", p[:min(8, len(p))], n, vv, hlc%1e12, au, c[:min(8, len(c))])
	}
	rows.Close()
	rows, _ = d.db.settled().Query("SELECT parent_fid, name, vv, hlc, author, child FROM entry_claims")
	for rows.Next() {
		var p, vv, au, c string
		var n []byte
		var hlc int64
		rows.Scan(&p, &n, &vv, &hlc, &au, &c)
		out += fmt.Sprintf("  claim %s/%s %s %d %s -> %s\n", p[:min(8, len(p))], n, vv, hlc%1e12, au, c[:min(8, len(c))])
	}
	rows.Close()
	return out
}
