package main

// End-to-end tests of residency control: pin, unpin, evict, the cache
// budget and fsck, run through the built binary on a local-directory store.

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestResidency(t *testing.T) {
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "", "--cache-size", "1M")

	// d holds 1.6 MiB: more than the budget.
	files := map[string][]byte{}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rel := range []string{"d/f1", "d/f2", "d/f3", "d/sub/f4"} {
		b := make([]byte, 400<<10)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		files[rel] = b
	}
	if err := os.MkdirAll(m.path("d/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, b := range files {
		if err := os.WriteFile(m.path(rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkContent := func(t *testing.T) {
		t.Helper()
		for rel, want := range files {
			got, err := os.ReadFile(m.path(rel))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: content differs (%v)", rel, err)
			}
		}
	}

	t.Run("evict_staged_refused", func(t *testing.T) {
		r := syncfs(t, nil, "evict", m.path("d"))
		if r.code == 0 || !strings.Contains(r.stderr, filepath.Join(m.path("d"), "f1")+": has changes not yet uploaded") {
			t.Fatalf("evict of unsynced files: %s", r)
		}
		if got := getState(t, m.path("d/f1")); got != "staged" {
			t.Fatalf("state %q after refused evict", got)
		}
	})

	mustSyncfs(t, nil, "sync", m.dir)

	t.Run("evict", func(t *testing.T) {
		r := mustSyncfs(t, nil, "evict", m.path("d"))
		if !strings.Contains(r.stdout, "evicted 4 files") {
			t.Fatalf("evict: %s", r)
		}
		for rel := range files {
			if got := getState(t, m.path(rel)); got != "absent" {
				t.Errorf("%s: state %q after evict", rel, got)
			}
		}
	})

	t.Run("pin", func(t *testing.T) {
		r := mustSyncfs(t, nil, "pin", m.path("d"))
		if !strings.Contains(r.stdout, "pinned 4 files in 2 directories") || !strings.Contains(r.stdout, "everything pinned is on this device") {
			t.Fatalf("pin: %s", r)
		}
		for rel := range files {
			if got := getState(t, m.path(rel)); got != "resident,pinned" {
				t.Errorf("%s: state %q after pin", rel, got)
			}
		}
		// Pinned content is never evicted, so the cache stays over budget.
		if s := m.status(t); !strings.Contains(s, "OVER BUDGET") || !strings.Contains(s, "pinned:    4 files") {
			t.Errorf("status while pinned content exceeds the budget:\n%s", s)
		}
		if r := syncfs(t, nil, "evict", m.path("d/f1")); r.code == 0 || !strings.Contains(r.stderr, "pinned") {
			t.Errorf("evict of a pinned file: %s", r)
		}
		if r := syncfs(t, nil, "unpin", m.path("d/f1")); r.code == 0 || !strings.Contains(r.stderr, "pinned through its directory") {
			t.Errorf("unpin inside a pinned directory: %s", r)
		}
	})

	t.Run("unpin_then_budget_evicts", func(t *testing.T) {
		r := mustSyncfs(t, nil, "unpin", m.path("d"))
		if !strings.Contains(r.stdout, "unpinned 4 files") {
			t.Fatalf("unpin: %s", r)
		}
		var last string
		if !poll(30*time.Second, func() bool {
			last = m.status(t)
			return strings.Contains(last, "evicted") && !strings.Contains(last, "OVER BUDGET")
		}) {
			t.Fatalf("the evictor did not get the cache under budget:\n%s", last)
		}
		checkContent(t)
	})

	t.Run("fsck", func(t *testing.T) {
		r := mustSyncfs(t, nil, "fsck", m.dir, "--store")
		if !strings.Contains(r.stdout, "no problems") || !strings.Contains(r.stdout, "chunks in the store") {
			t.Fatalf("fsck of a healthy mount: %s", r)
		}
		if err := os.WriteFile(filepath.Join(m.cache, "data", "99999-1"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := syncfs(t, nil, "fsck", m.dir); r.code == 0 || !strings.Contains(r.stdout, "not known to the index") {
			t.Fatalf("fsck with an unknown cache file: %s", r)
		}
		if r := mustSyncfs(t, nil, "fsck", "--repair", m.dir); !strings.Contains(r.stdout, "repaired: removed cache file 99999-1") {
			t.Fatalf("fsck --repair: %s", r)
		}
	})

	m.unmount(t)
	t.Run("fsck_offline", func(t *testing.T) {
		r := mustSyncfs(t, nil, "fsck", "--cache-dir", m.cache, "--store="+st.url)
		if !strings.Contains(r.stdout, "no problems") {
			t.Fatalf("offline fsck: %s", r)
		}
	})
}
