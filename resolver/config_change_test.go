package resolver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/index"
)

// Config changes are claimed as configs/<seq> with create-if-absent before
// config is written (config_change.go). These tests run on the local
// backend; PutIfAbsent's atomicity on every backend is checked by
// blobstore/storetest (PutIfAbsentRace).

// storedPolicy opens the store as a new reader would and returns its
// policy.
func storedPolicy(t *testing.T, s blobstore.Store) string {
	t.Helper()
	return policyOf(openRepo(t, s).Config)
}

// changes returns the store's change records.
func changes(t *testing.T, s blobstore.Store) []configChange {
	t.Helper()
	cs, err := readConfigChanges(testCtx(t), openRepo(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// checkChain fails unless the records form one line from first (the
// config before any change) and config holds the newest one's state.
func checkChain(t *testing.T, s blobstore.Store, first []byte) {
	t.Helper()
	cs := changes(t, s)
	prev := first
	for i, c := range cs {
		if c.Seq != uint64(i+1) || c.Base != hashHex(prev) {
			t.Fatalf("change %d (seq %d) is based on %s, not on the state before it", i+1, c.Seq, c.Base)
		}
		prev = c.Config
	}
	raw, err := ReadConfig(testCtx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, prev) {
		t.Fatalf("config is not the newest claimed state:\n%s\nwant\n%s", raw, prev)
	}
}

func TestConfigChangeConcurrent(t *testing.T) {
	t.Run("a change made between the read and the write is reported, not lost", func(t *testing.T) {
		s := initStore(t)
		first, _ := ReadConfig(testCtx(t), s)
		a, b := openRepo(t, s), openRepo(t, s)
		// a sets newest; meanwhile b sets newest, then copy. Without a
		// compare-and-set, a's write would undo b's last change.
		err := changeConfig(testCtx(t), a, func(c *Config) bool { c.Conflict = index.PolicyNewest; return true }, func() {
			for _, p := range []string{index.PolicyNewest, index.PolicyCopy} {
				if err := SetConflictPolicy(testCtx(t), b, p); err != nil {
					t.Errorf("b sets %s: %v", p, err)
				}
			}
		})
		if !errors.Is(err, ErrConfigChanged) {
			t.Fatalf("a's change over b's: %v", err)
		}
		if !strings.Contains(err.Error(), "config changed by another device, retry") || !strings.Contains(err.Error(), "conflict policy now copy") {
			t.Fatalf("message: %v", err)
		}
		if p := storedPolicy(t, s); p != index.PolicyCopy {
			t.Fatalf("b's last change was lost: the store says %s", p)
		}
		if policyOf(a.Config) != index.PolicyCopy {
			t.Fatalf("a's copy of the config says %s after the refusal", policyOf(a.Config))
		}
		checkChain(t, s, first)
		if n := len(changes(t, s)); n != 2 {
			t.Fatalf("%d change records, want b's 2", n)
		}
		// Retried, a's change goes in.
		if err := SetConflictPolicy(testCtx(t), a, index.PolicyNewest); err != nil {
			t.Fatal(err)
		}
		if p := storedPolicy(t, s); p != index.PolicyNewest {
			t.Fatalf("after the retry the store says %s", p)
		}
		checkChain(t, s, first)
	})

	t.Run("many writers at once: every change that succeeds is in the line, the last one holds", func(t *testing.T) {
		s := initStore(t)
		first, _ := ReadConfig(testCtx(t), s)
		const writers, rounds = 6, 5
		var mu sync.Mutex
		won, refused := 0, 0
		var wg sync.WaitGroup
		for w := range writers {
			repo := openRepo(t, s)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					// Each call flips the policy it reads, so that
					// every success writes a change.
					err := changeConfig(testCtx(t), repo, func(c *Config) bool {
						c.Conflict = map[string]string{index.PolicyCopy: index.PolicyNewest, index.PolicyNewest: index.PolicyCopy}[policyOf(*c)]
						return true
					}, nil)
					mu.Lock()
					switch {
					case err == nil:
						won++
					case errors.Is(err, ErrConfigChanged):
						refused++
					default:
						t.Errorf("writer %d round %d: %v", w, r, err)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		t.Logf("%d writers x %d changes: %d written, %d refused as concurrent", writers, rounds, won, refused)
		if won == 0 || won+refused != writers*rounds {
			t.Fatalf("%d written, %d refused", won, refused)
		}
		if n := len(changes(t, s)); n != won {
			t.Fatalf("%d change records for %d successful changes", n, won)
		}
		checkChain(t, s, first)
		// Every change flipped the policy: the parity of the count says
		// what the store must hold now.
		want := index.PolicyCopy
		if won%2 == 1 {
			want = index.PolicyNewest
		}
		if p := storedPolicy(t, s); p != want {
			t.Fatalf("after %d flips the store says %s", won, p)
		}
	})
}

func TestConfigChangeRepair(t *testing.T) {
	t.Run("a change claimed but not written is finished by the next one", func(t *testing.T) {
		s := initStore(t)
		first, _ := ReadConfig(testCtx(t), s)
		f := blobstore.NewFault(s, 1)
		f.OnPut = func(name string) error {
			if name == configName {
				return errors.New("writer died")
			}
			return nil
		}
		a := openRepo(t, f)
		if err := SetConflictPolicy(testCtx(t), a, index.PolicyNewest); err == nil || !strings.Contains(err.Error(), "will be finished by the next change") {
			t.Fatalf("a change whose write fails: %v", err)
		}
		if p := storedPolicy(t, s); p != index.PolicyCopy {
			t.Fatalf("config written anyway: %s", p)
		}
		// Asking for what was claimed writes nothing new but finishes it.
		b := openRepo(t, s)
		if err := SetConflictPolicy(testCtx(t), b, index.PolicyNewest); err != nil {
			t.Fatal(err)
		}
		if p := storedPolicy(t, s); p != index.PolicyNewest {
			t.Fatalf("the claimed change was not finished: %s", p)
		}
		if n := len(changes(t, s)); n != 1 {
			t.Fatalf("%d change records, want 1", n)
		}
		checkChain(t, s, first)
	})

	t.Run("a write that lands after a newer one is undone by the next change", func(t *testing.T) {
		s := initStore(t)
		first, _ := ReadConfig(testCtx(t), s)
		repo := openRepo(t, s)
		for _, p := range []string{index.PolicyNewest, index.PolicyCopy} {
			if err := SetConflictPolicy(testCtx(t), repo, p); err != nil {
				t.Fatal(err)
			}
		}
		cs := changes(t, s)
		// The writer of change 1 was slow: its write of config lands now.
		if err := blobstore.PutBytes(testCtx(t), s, configName, cs[0].Config); err != nil {
			t.Fatal(err)
		}
		if p := storedPolicy(t, s); p != index.PolicyNewest {
			t.Fatalf("setup: %s", p)
		}
		if err := SetConflictPolicy(testCtx(t), openRepo(t, s), index.PolicyCopy); err != nil {
			t.Fatal(err)
		}
		if p := storedPolicy(t, s); p != index.PolicyCopy {
			t.Fatalf("the late write still holds: %s", p)
		}
		if n := len(changes(t, s)); n != 2 {
			t.Fatalf("%d change records, want 2 (nothing to change once repaired)", n)
		}
		checkChain(t, s, first)
	})

	t.Run("a config rewritten by a syncfs without change records is kept as the base", func(t *testing.T) {
		s := initStore(t)
		repo := openRepo(t, s)
		if err := SetConflictPolicy(testCtx(t), repo, index.PolicyNewest); err != nil {
			t.Fatal(err)
		}
		// An older syncfs puts the config back to copy in place, as it
		// always did (with a new MAC and a field of its own left out).
		cfg := repo.Config
		cfg.Conflict = index.PolicyCopy
		cfg.MAC = repo.Keys.ConfigMAC(cfg.macInput())
		old, _ := json.Marshal(cfg)
		if err := blobstore.PutBytes(testCtx(t), s, configName, old); err != nil {
			t.Fatal(err)
		}
		if err := SetConflictPolicy(testCtx(t), openRepo(t, s), index.PolicyCopy); err != nil {
			t.Fatal(err)
		}
		if p := storedPolicy(t, s); p != index.PolicyCopy {
			t.Fatalf("the older syncfs's change was undone: %s", p)
		}
		if err := SetConflictPolicy(testCtx(t), openRepo(t, s), index.PolicyNewest); err != nil {
			t.Fatal(err)
		}
		cs := changes(t, s)
		if len(cs) != 2 || cs[1].Base != hashHex(old) {
			t.Fatalf("the next change is not based on the rewritten config: %d records", len(cs))
		}
	})

	t.Run("a tampered change record is refused and nothing is written", func(t *testing.T) {
		s := initStore(t)
		repo := openRepo(t, s)
		if err := SetConflictPolicy(testCtx(t), repo, index.PolicyNewest); err != nil {
			t.Fatal(err)
		}
		raw, err := blobstore.GetAll(testCtx(t), s, configChangeName(1), 0)
		if err != nil {
			t.Fatal(err)
		}
		var c configChange
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		c.Base = strings.Repeat("0", 64)
		bad, _ := json.Marshal(c)
		if err := blobstore.PutBytes(testCtx(t), s, configChangeName(1), bad); err != nil {
			t.Fatal(err)
		}
		if err := SetConflictPolicy(testCtx(t), repo, index.PolicyCopy); !errors.Is(err, ErrCorruptConfig) {
			t.Fatalf("change over a tampered record: %v", err)
		}
		if p := storedPolicy(t, s); p != index.PolicyNewest {
			t.Fatalf("written anyway: %s", p)
		}
		// A stray object under configs/ is refused too.
		if err := blobstore.PutBytes(testCtx(t), s, configsPrefix+"x", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if _, err := readConfigChanges(testCtx(t), repo); !errors.Is(err, ErrCorruptConfig) {
			t.Fatalf("stray object: %v", err)
		}
	})

	t.Run("readers that know nothing of the records open the store as before", func(t *testing.T) {
		s := initStore(t)
		for i, p := range []string{index.PolicyNewest, index.PolicyCopy, index.PolicyNewest} {
			if err := SetConflictPolicy(testCtx(t), openRepo(t, s), p); err != nil {
				t.Fatalf("change %d: %v", i+1, err)
			}
		}
		raw, _ := ReadConfig(testCtx(t), s)
		if cfg, _, err := OpenConfig(raw, []byte("pw")); err != nil || cfg.Conflict != index.PolicyNewest {
			t.Fatalf("OpenConfig: %v %q", err, cfg.Conflict)
		}
		var names []string
		if err := s.List(testCtx(t), configsPrefix, func(i blobstore.Info) error { names = append(names, i.Name); return nil }); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(names) != fmt.Sprint([]string{configChangeName(1), configChangeName(2), configChangeName(3)}) {
			t.Fatalf("records: %v", names)
		}
	})
}
