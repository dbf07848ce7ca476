package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// convergeSeeds is which seeds TestRandomConvergence runs:
// SYNCFS_CONVERGE_SEEDS overrides how many (thousands for a soak),
// SYNCFS_CONVERGE_FIRST the first (1 by default: a soak can go on where an
// earlier one stopped), and SYNCFS_CONVERGE_SEED runs just one, to replay
// a failure.
func convergeSeeds(t *testing.T) (first, n int64) {
	if s := os.Getenv("SYNCFS_CONVERGE_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("SYNCFS_CONVERGE_SEED: %v", err)
		}
		return v, 1
	}
	n = 100
	if testing.Short() {
		n = 20
	}
	if s := os.Getenv("SYNCFS_CONVERGE_SEEDS"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("SYNCFS_CONVERGE_SEEDS: %v", err)
		}
		n = v
	}
	first = 1
	if s := os.Getenv("SYNCFS_CONVERGE_FIRST"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("SYNCFS_CONVERGE_FIRST: %v", err)
		}
		first = v
	}
	return first, n
}

// TestRandomConvergence drives two or three devices with random operations
// (create, write, rename, delete, mkdir, chmod) and random partial syncs in
// random order, then syncs until quiet, and checks that every device has
// the same tree (names, file IDs, modes, content) and that every content a
// user wrote survives somewhere, unless a user overwrote or deleted it while
// seeing it.
func TestRandomConvergence(t *testing.T) {
	first, n := convergeSeeds(t)
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			problem := runConvergence(t, seed, PolicyCopy)
			if why, ok := knownDivergent[seed]; ok && os.Getenv("SYNCFS_CONVERGE_SEED") == "" {
				// Still run, so that a fix shows up here.
				if problem == "" {
					t.Fatalf("seed %d converges now: remove it from knownDivergent", seed)
				}
				t.Skipf("known divergence (%s); replay with SYNCFS_CONVERGE_SEED=%d", why, seed)
			}
			if problem != "" {
				t.Fatalf("seed %d (replay with SYNCFS_CONVERGE_SEED=%d): %s", seed, seed, problem)
			}
		})
	}
}

// knownDivergent lists seeds (of the default run and the first soak
// hundreds) whose devices do not converge yet, with the class of bug: they
// are the open work of this test. Runs are deterministic (seeded clock and
// file IDs), so the list is stable until the behaviour changes.
var knownDivergent = map[int64]string{}

// TestRandomConvergenceNewest runs the first seeds of
// TestRandomConvergence under the "newest" conflict policy: devices still
// converge, no conflict copy of content is made unless the losing content
// was never uploaded, and every content a user wrote survives in the tree
// or in a file's versions.
func TestRandomConvergenceNewest(t *testing.T) {
	first, n := convergeSeeds(t)
	n = min(n, 30) // the default run's first seeds: enough on 2 cores
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			if problem := runConvergence(t, seed, PolicyNewest); problem != "" {
				t.Fatalf("seed %d (replay with SYNCFS_CONVERGE_SEED=%d): %s", seed, seed, problem)
			}
		})
	}
}

// simModel remembers, across devices, which contents must survive.
type simModel struct {
	written map[string]string // content hash -> who wrote it where, for messages
	retired map[string]bool   // hashes a user overwrote or deleted while seeing them
	next    int
}

// runConvergence runs one seed and returns what went wrong: devices that
// differ, or contents lost ("" if neither).
func runConvergence(t *testing.T, seed int64, policy string) string {
	rng := rand.New(rand.NewSource(seed))
	clock := &simClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	names := []string{"aaaa", "bbbb", "cccc"}[:2+rng.Intn(2)]
	devs := newSimSeeded(t, clock, seed, names...)
	for _, d := range devs {
		if err := d.db.SetConflictPolicy(policy); err != nil {
			t.Fatal(err)
		}
	}
	m := &simModel{written: map[string]string{}, retired: map[string]bool{}}
	steps := 30 + rng.Intn(40)
	for i := 0; i < steps; i++ {
		clock.advance(time.Duration(rng.Intn(3000)) * time.Millisecond)
		d := devs[rng.Intn(len(devs))]
		switch r := rng.Intn(10); {
		case r < 6:
			randomOp(t, rng, d, m)
		case r < 8:
			d.upload()
			t.Logf("%s: upload (journal %d)", d.name, len(d.journal))
		default:
			o := devs[rng.Intn(len(devs))]
			if o != d {
				wm, _ := d.db.Watermark(o.name)
				d.pull(o, 1+rng.Intn(3))
				wm2, _ := d.db.Watermark(o.name)
				t.Logf("%s: pull %s %d..%d", d.name, o.name, wm+1, wm2)
			}
		}
	}
	settle(t, devs)
	tr, problem := converged(t, devs)
	if problem != "" {
		return problem
	}
	if os.Getenv("SYNCFS_DUMP") != "" {
		// The settled tree of a seed that converges (run with -v), to
		// see what a change does to it.
		t.Logf("tree:\n%s", dumpTree(tr))
	}
	have := contents(tr)
	if policy == PolicyNewest {
		// A loser lives on in its file's versions.
		for _, d := range devs {
			for h := range historyContents(t, d) {
				have[h]++
			}
		}
	}
	if problem := sameConflicts(t, devs); problem != "" {
		return problem
	}
	var lost []string
	for h, who := range m.written {
		if !m.retired[h] && have[h] == 0 {
			lost = append(lost, who)
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		return fmt.Sprintf("contents lost: %v\ntree:\n%s", lost, dumpTree(tr))
	}
	return ""
}

// entries lists a device's tree: paths and attributes.
func (d *simDevice) entries() (files, dirs []string, attrs map[string]Attr) {
	attrs = map[string]Attr{"/": {Ino: RootIno, Mode: syscall.S_IFDIR}}
	dirs = []string{"/"}
	var walk func(ino uint64, prefix string)
	walk = func(ino uint64, prefix string) {
		ents, err := d.db.ReadDir(ino, 0, 1<<20)
		if err != nil {
			d.t.Fatal(err)
		}
		for _, e := range ents {
			p := prefix + "/" + e.Name
			attrs[p] = e.Attr
			if e.Attr.IsDir() {
				dirs = append(dirs, p)
				walk(e.Attr.Ino, p)
			} else {
				files = append(files, p)
			}
		}
	}
	walk(RootIno, "")
	return files, dirs, attrs
}

// retire notes that a user on d overwrote or deleted the file a while
// seeing its content.
func (m *simModel) retire(d *simDevice, a Attr) {
	b, err := d.content(a)
	if err != nil {
		d.t.Fatalf("%s: content of %d: %v", d.name, a.Ino, err)
	}
	m.retired[hashOf(b)] = true
}

func randomOp(t *testing.T, rng *rand.Rand, d *simDevice, m *simModel) {
	var what string
	defer func() {
		if what != "" {
			t.Logf("%s: %s", d.name, what)
		}
	}()
	files, dirs, attrs := d.entries()
	pick := func(l []string) string { return l[rng.Intn(len(l))] }
	name := func() string { return []string{"a", "b", "c.txt", "d.txt", "e"}[rng.Intn(5)] }
	parentOf := func(p string) string {
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			return "/"
		}
		return p[:i]
	}
	newContent := func(where string) []byte {
		m.next++
		c := fmt.Sprintf("%s#%d", d.name, m.next)
		m.written[hashOf([]byte(c))] = c + " at " + where
		return []byte(c)
	}
	switch op := rng.Intn(12); {
	case op < 3: // create or overwrite a file by name
		dir := pick(dirs)
		n := name()
		p := strings.TrimSuffix(dir, "/") + "/" + n
		if a, ok := attrs[p]; ok {
			if !a.IsRegular() {
				return
			}
			m.retire(d, a)
		}
		what = "write " + p
		if err := d.write(attrs[dir].Ino, n, newContent(p)); err != nil {
			t.Fatalf("%s: write %s: %v", d.name, p, err)
		}
	case op < 5: // overwrite an existing file (conflict copies included)
		if len(files) == 0 {
			return
		}
		p := pick(files)
		a := attrs[p]
		if !a.IsRegular() {
			return
		}
		m.retire(d, a)
		what = "overwrite " + p
		if err := d.write(attrs[parentOf(p)].Ino, p[strings.LastIndexByte(p, '/')+1:], newContent(p)); err != nil {
			t.Fatalf("%s: write %s: %v", d.name, p, err)
		}
	case op < 6: // mkdir
		dir, n := pick(dirs), name()
		what = "mkdir " + dir + " " + n
		if _, err := d.db.Create(attrs[dir].Ino, n, NewNode{Mode: syscall.S_IFDIR | 0o755}); err != nil && !errors.Is(err, ErrExist) {
			t.Fatalf("%s: mkdir in %s: %v", d.name, dir, err)
		}
	case op < 8: // rename: a file anywhere, a directory within its parent
		all := append(append([]string(nil), files...), dirs[1:]...)
		if len(all) == 0 {
			return
		}
		p := pick(all)
		a := attrs[p]
		to := parentOf(p)
		if !a.IsDir() {
			to = pick(dirs)
		}
		n := name()
		if b, ok := attrs[strings.TrimSuffix(to, "/")+"/"+n]; ok {
			if b.Ino == a.Ino || b.IsDir() || a.IsDir() {
				return
			}
			m.retire(d, b)
		}
		what = "rename " + p + " to " + to + " " + n
		if err := d.db.Rename(attrs[parentOf(p)].Ino, p[strings.LastIndexByte(p, '/')+1:], attrs[to].Ino, n, 0); err != nil {
			t.Fatalf("%s: rename %s to %s/%s: %v", d.name, p, to, n, err)
		}
	case op < 10: // delete a file, or an empty directory
		all := append(append([]string(nil), files...), dirs[1:]...)
		if len(all) == 0 {
			return
		}
		p := pick(all)
		a := attrs[p]
		base := p[strings.LastIndexByte(p, '/')+1:]
		what = "delete " + p
		if a.IsDir() {
			err := d.db.Rmdir(attrs[parentOf(p)].Ino, base)
			if err != nil && !errors.Is(err, ErrNotEmpty) {
				t.Fatalf("%s: rmdir %s: %v", d.name, p, err)
			}
			return
		}
		if a.IsRegular() {
			m.retire(d, a)
		}
		if err := d.db.Unlink(attrs[parentOf(p)].Ino, base); err != nil {
			t.Fatalf("%s: unlink %s: %v", d.name, p, err)
		}
	default: // chmod
		all := append(append([]string(nil), files...), dirs[1:]...)
		if len(all) == 0 {
			return
		}
		mode := uint32(0o600 + rng.Intn(0o100))
		p := pick(all)
		what = fmt.Sprintf("chmod %s %o", p, mode)
		if _, err := d.db.SetAttr(attrs[p].Ino, SetAttrIn{Mode: &mode}); err != nil {
			t.Fatalf("%s: chmod: %v", d.name, err)
		}
	}
}

// historyContents returns the hashes of every content in d's history.
func historyContents(t *testing.T, d *simDevice) map[string]bool {
	t.Helper()
	rows, err := d.db.settled().Query("SELECT content FROM history WHERE deleted=0 AND content IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var cb []byte
		if err := rows.Scan(&cb); err != nil {
			t.Fatal(err)
		}
		var c Content
		if err := json.Unmarshal(cb, &c); err != nil {
			t.Fatal(err)
		}
		out[hashOf(c.Inline)] = true
	}
	return out
}

// sameConflicts reports devices that list different conflicts once
// settled ("" if they agree).
func sameConflicts(t *testing.T, devs []*simDevice) string {
	t.Helper()
	list := func(d *simDevice) string {
		cs, err := d.db.Conflicts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, c := range cs {
			fmt.Fprintf(&b, "  copy %q (%s) of %q (%s) loser %s@%d vv %s\n", c.CopyPath, c.CopyID, c.OrigPath, c.OrigID, c.Loser.Device, c.Loser.HLC, c.LoserVV)
		}
		return b.String()
	}
	first := list(devs[0])
	for _, d := range devs[1:] {
		if got := list(d); got != first {
			return fmt.Sprintf("conflicts listed differ:\n%s:\n%s%s:\n%s", devs[0].name, first, d.name, got)
		}
	}
	return ""
}
