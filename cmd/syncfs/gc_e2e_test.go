package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// storeBytes sums the sizes of a local store's objects under prefix.
func storeBytes(t *testing.T, dir, prefix string) int64 {
	t.Helper()
	var n int64
	for _, name := range storeObjects(t, dir, prefix) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func randomFile(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPruneReturnsStoreToLiveSize overwrites and deletes files on two
// mounted devices, prunes through the store while both stay mounted, and
// checks that the store shrinks to within 10% of the live data, that the
// live files still read back and that verify finds nothing wrong; then it
// damages two chunks and checks that verify names both.
func TestPruneReturnsStoreToLiveSize(t *testing.T) {
	st := localStore(t)
	st.init(t)
	a := mountStore(t, st, "", "--poll", "300ms")
	b := mountStore(t, st, "", "--poll", "300ms")
	const size = 8 << 20
	var live []byte
	for i := range 4 {
		live = randomFile(t, a.path("big"), size)
		mustSyncfs(t, nil, "sync", a.dir)
		if i == 1 {
			randomFile(t, b.path("gone"), size)
			mustSyncfs(t, nil, "sync", b.dir)
		}
	}
	if err := os.Remove(b.path("gone")); err != nil {
		t.Fatal(err)
	}
	mustSyncfs(t, nil, "sync", b.dir)
	before := storeBytes(t, st.url, "chunks")
	if before < 4*size {
		t.Fatalf("store holds %d bytes of chunks before prune; want the old versions too", before)
	}

	r := mustSyncfs(t, passEnv(), append([]string{"prune", "--keep-versions-within", "0", "--wait", "60s"}, st.args()...)...)
	if !strings.Contains(r.stdout, "deleted") {
		t.Fatalf("prune did not sweep with both devices mounted: %s", r)
	}
	after := storeBytes(t, st.url, "chunks")
	if float64(after) > 1.1*float64(size) {
		t.Fatalf("after prune the store holds %d bytes of chunks for %d live bytes (before: %d)\n%s", after, size, before, r)
	}
	t.Logf("chunks: %d bytes before prune, %d after, %d live", before, after, size)

	// Both devices still read the live file; b fetches it from the store.
	if got, err := os.ReadFile(b.path("big")); err != nil || !bytes.Equal(got, live) {
		if poll(20*time.Second, func() bool { got, err = os.ReadFile(b.path("big")); return err == nil && bytes.Equal(got, live) }) == false {
			t.Fatalf("the live file differs on the second device after prune: %v", err)
		}
	}
	r = mustSyncfs(t, nil, "device", "list", a.dir)
	if strings.Count(r.stdout, "live") != 2 {
		t.Fatalf("device list should show two live devices: %s", r)
	}
	r = mustSyncfs(t, nil, "verify", "--read-data", a.dir)
	if !strings.Contains(r.stdout, ": 0 problems") {
		t.Fatalf("verify after prune: %s", r)
	}

	t.Run("verify names a missing and a damaged chunk", func(t *testing.T) {
		chunks := storeObjects(t, st.url, "chunks")
		if len(chunks) < 2 {
			t.Fatalf("only %d chunks", len(chunks))
		}
		if err := os.Remove(filepath.Join(st.url, chunks[0])); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(st.url, chunks[1])
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		body[len(body)/2] ^= 1
		if err := os.WriteFile(p, body, 0o600); err != nil {
			t.Fatal(err)
		}
		r := syncfs(t, passEnv(), append([]string{"verify", "--read-data"}, st.args()...)...)
		if r.code != exitDamaged {
			t.Fatalf("verify of a damaged store: %s", r)
		}
		for _, name := range chunks[:2] {
			if !strings.Contains(r.stdout, name) {
				t.Errorf("verify did not name %s: %s", name, r)
			}
		}
		if !strings.Contains(r.stdout, "missing") || !strings.Contains(r.stdout, "damaged") || !strings.Contains(r.stdout, "/big") {
			t.Errorf("verify should say missing, damaged, and which file: %s", r)
		}
	})
}

func TestPruneRejectsBadInput(t *testing.T) {
	st := localStore(t)
	st.init(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"negative keep", []string{"prune", "--keep-last", "-1"}, exitUsage, "negative"},
		{"bad retention", []string{"prune", "--keep-versions-within", "soon"}, exitUsage, "soon"},
		{"no target", []string{"prune"}, exitUsage, "--store"},
		{"verify no target", []string{"verify"}, exitUsage, "--store"},
		{"forget not an ID", []string{"device", "forget", "../config", "--store", st.url}, exitUsage, "not a device ID"},
		{"forget unknown", []string{"device", "forget", "0123456789abcdef", "--store", st.url}, exitUsage, "no such device"},
		{"wrong passphrase", []string{"prune", "--store", st.url}, exitPassphrase, "passphrase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := passEnv()
			if tc.name == "wrong passphrase" {
				env = []string{"SYNCFS_PASSPHRASE=wrong"}
			}
			r := syncfs(t, env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.says) {
				t.Fatalf("want exit %d saying %q: %s", tc.code, tc.says, r)
			}
		})
	}
}

// TestPruneSnapshots takes three snapshots through the store and prunes
// them by policy: keep-last keeps the newest, and a dry run deletes nothing.
func TestPruneSnapshots(t *testing.T) {
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "")
	for i := range 3 {
		randomFile(t, m.path("f"), 64<<10+i)
		mustSyncfs(t, nil, "sync", m.dir)
		mustSyncfs(t, nil, "snapshot", "create", m.dir, "--name", "s"+string(rune('0'+i)))
	}
	m.unmount(t)
	list := func() string {
		return mustSyncfs(t, passEnv(), append([]string{"snapshot", "list"}, st.args()...)...).stdout
	}
	r := mustSyncfs(t, passEnv(), append([]string{"prune", "--keep-last", "1", "--dry-run"}, st.args()...)...)
	if !strings.Contains(r.stdout, "1 kept, 2 would delete") || strings.Count(list(), "\n") != 4 {
		t.Fatalf("dry run: %s\n%s", r, list())
	}
	r = mustSyncfs(t, passEnv(), append([]string{"prune", "--keep-last", "1"}, st.args()...)...)
	if !strings.Contains(r.stdout, "1 kept, 2 deleted") {
		t.Fatalf("prune --keep-last 1: %s", r)
	}
	if l := list(); strings.Count(l, "\n") != 2 || !strings.Contains(l, "s2") {
		t.Fatalf("after prune the snapshots are:\n%s", l)
	}
	r = mustSyncfs(t, passEnv(), append([]string{"verify", "--read-data"}, st.args()...)...)
	if !strings.Contains(r.stdout, ": 0 problems") {
		t.Fatalf("verify after prune: %s", r)
	}
}
