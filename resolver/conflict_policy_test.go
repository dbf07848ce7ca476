package resolver

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/syncfs/syncfs/index"
)

func TestSetConflictPolicy(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "aaaa")
	b := newDevice(t, s, "bbbb")
	policy := func(d *device) string {
		t.Helper()
		p, err := d.idx.ConflictPolicy()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if policy(a) != index.PolicyCopy {
		t.Fatalf("a new store's policy is %q", policy(a))
	}
	if err := b.eng.Pull(testCtx(t)); err != nil { // reads the config once
		t.Fatal(err)
	}
	t.Run("bad policy refused", func(t *testing.T) {
		if err := a.eng.SetConflictPolicy(testCtx(t), "oldest"); !errors.Is(err, index.ErrInvalid) {
			t.Fatalf("SetConflictPolicy(oldest) = %v", err)
		}
	})
	t.Run("rewritten config opens with the new policy", func(t *testing.T) {
		if err := a.eng.SetConflictPolicy(testCtx(t), index.PolicyNewest); err != nil {
			t.Fatal(err)
		}
		if policy(a) != index.PolicyNewest {
			t.Fatalf("the changing device holds %q", policy(a))
		}
		if repo := openRepo(t, s); repo.Config.Conflict != index.PolicyNewest {
			t.Fatalf("config says %q", repo.Config.Conflict)
		}
	})
	t.Run("another device picks it up at a pull after the interval", func(t *testing.T) {
		if err := b.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if policy(b) != index.PolicyCopy {
			t.Fatal("read again before the interval")
		}
		b.eng.pullMu.Lock()
		b.eng.policyEvery = 0
		b.eng.pullMu.Unlock()
		if err := b.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if policy(b) != index.PolicyNewest {
			t.Fatalf("b holds %q after a pull", policy(b))
		}
	})
	t.Run("a tampered config stops the pull", func(t *testing.T) {
		raw, err := ReadConfig(testCtx(t), s)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Replace(raw, []byte(`"conflict": "newest"`), []byte(`"conflict": "copy"`), 1)
		if bytes.Equal(bad, raw) {
			t.Fatalf("no policy in the config: %s", raw)
		}
		if err := s.Put(testCtx(t), configName, bytes.NewReader(bad), int64(len(bad))); err != nil {
			t.Fatal(err)
		}
		if err := b.eng.Pull(testCtx(t)); !errors.Is(err, ErrCorruptConfig) {
			t.Fatalf("pull with a tampered config: %v", err)
		}
		if policy(b) != index.PolicyNewest {
			t.Fatalf("a tampered policy was applied: %q", policy(b))
		}
	})
}

// TestNewestLoserSurvivesPrune: under "newest" the losing version is in no
// live file, only in the file's versions. A prune that keeps versions
// within the hour, run (by its clock) two hours later, drops the first
// version, which both edits have seen, but keeps the loser, which no
// version has seen yet; it can be restored afterwards.
func TestNewestLoserSurvivesPrune(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "aaaa")
	b := newDevice(t, s, "bbbb")
	if err := a.eng.SetConflictPolicy(testCtx(t), index.PolicyNewest); err != nil {
		t.Fatal(err)
	}
	if err := b.idx.SetConflictPolicy(index.PolicyNewest); err != nil {
		t.Fatal(err)
	}
	sync := func(d *device) {
		t.Helper()
		if err := d.eng.Sync(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	base, fromA, fromB := randBytes(1, 1<<20), randBytes(2, 3<<20), randBytes(3, 2<<20)
	a.writeFile(t, "f", base)
	sync(a)
	sync(b)
	a.writeFile(t, "f", fromA)
	sync(a) // a's edit is in the store; b has not seen it
	// b's edit, made after, has the later hybrid time and wins.
	b.writeFile(t, "f", fromB)
	if err := b.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	sync(a)
	sync(b)
	for _, d := range []*device{a, b} {
		if got := d.readFile(t, "f"); !bytes.Equal(got, fromB) {
			t.Fatal("the later edit does not hold the name")
		}
		if _, err := d.idx.Lookup(index.RootIno, "f (conflict aaaa"); err == nil {
			t.Fatal("a conflict copy under newest")
		}
	}
	cs, err := b.idx.Conflicts(testCtx(t))
	if err != nil || len(cs) != 1 || cs[0].CopyIno != 0 || cs[0].Loser.Device != "aaaa" {
		t.Fatalf("conflicts on b: %+v %v", cs, err)
	}

	repo := openRepo(t, s)
	prune := func() *PruneReport {
		t.Helper()
		later := func() time.Time { return time.Now().Add(2 * time.Hour) }
		rep, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: time.Hour, Now: later})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := prune()
	for _, d := range []*device{a, b} { // acknowledge the epoch, if one was marked
		if err := d.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.eng.upload(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	rep2 := prune()
	t.Logf("prune: marked %d (%d candidates), then swept %d (%d deleted) and found %d more", rep.Marked, rep.Candidates, rep2.Swept, rep2.Deleted, rep2.Candidates)
	// The first version's chunks (how many depends on the store's keyed
	// chunker) go; the restore below shows that the loser's stayed.
	if rep.Marked == 0 || rep2.Swept != rep.Marked || rep2.Deleted == 0 || rep2.Deleted != rep.Candidates || rep2.Candidates != 0 {
		t.Fatalf("want the first version's chunks collected and nothing else: %+v then %+v", rep, rep2)
	}
	h, err := b.eng.History(testCtx(t), index.RootIno, "f")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range h.Versions {
		if v.Version.Concurrent && v.Pruned {
			t.Fatalf("the loser is listed as pruned: %+v", v)
		}
	}

	loser, err := b.idx.LoserVersion(cs[0])
	if err != nil {
		t.Fatal(err)
	}
	f := b.attr(t, "f")
	if _, err := b.eng.RestoreOver(testCtx(t), f.Ino, loser); err != nil {
		t.Fatalf("restore the loser after prune: %v", err)
	}
	if got := b.readFile(t, "f"); !bytes.Equal(got, fromA) {
		t.Fatal("restored loser differs")
	}
	sync(b)
	sync(a)
	if got := a.readFile(t, "f"); !bytes.Equal(got, fromA) {
		t.Fatal("the restore did not reach the other device")
	}
	if cs, err := a.idx.Conflicts(testCtx(t)); err != nil || len(cs) != 0 {
		t.Fatalf("still listed after the restore: %+v %v", cs, err)
	}
	if got := readThroughView(t, s, "f"); !bytes.Equal(got, fromA) {
		t.Fatal("a new device reads something else")
	}
}
