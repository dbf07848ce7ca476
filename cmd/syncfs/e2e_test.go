package main

// End-to-end tests: the syncfs binary run as a user runs it, against a
// local-directory store (the cloud stores are in cloud_e2e_test.go,
// tampering in tamper_e2e_test.go, rejected inputs in cli_e2e_test.go).

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seedFor returns a seed for a test's random tree, logged so that a
// failure can be replayed.
func seedFor(t testing.TB) uint64 {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	return seed
}

// bigFiles returns the tree's largest files, biggest first.
func bigFiles(tr *tree) []*node {
	var big []*node
	for _, n := range tr.sorted(kindFile) {
		if n.size >= 1<<20 && n.linkOf == "" {
			big = append(big, n)
		}
	}
	return big
}

var trafficRe = regexp.MustCompile(`traffic:\s+(.+) up, (.+) down`)

// roundTrip writes tr through a mount of st, unmounts, deletes the cache,
// mounts again with a new cache and compares everything; then mounts a
// third time over the now filled cache and compares again.
func roundTrip(t *testing.T, st store, tr *tree) {
	// Cache directories outlive the subtest that makes them.
	cacheDir := filepath.Join(t.TempDir(), "cache")
	ok := t.Run("write", func(t *testing.T) {
		m := mountStore(t, st, cacheDir)
		start := time.Now()
		bounded(t, 3*time.Minute, "writing the tree", func() { tr.write(t, m.dir) })
		t.Logf("wrote %d entries (%d MiB) in %v", len(tr.nodes), tr.totalSize()>>20, time.Since(start).Round(time.Millisecond))
		status := m.status(t)
		for _, want := range []string{"mount:     " + m.dir, "queue:", "files:     staged"} {
			if !strings.Contains(status, want) {
				t.Errorf("status lacks %q:\n%s", want, status)
			}
		}
		start = time.Now()
		m.unmount(t)
		t.Logf("unmount (flushing everything) took %v", time.Since(start).Round(time.Millisecond))
	})
	if !ok {
		return
	}
	if err := os.RemoveAll(cacheDir); err != nil {
		t.Fatal(err)
	}
	cacheDir = filepath.Join(t.TempDir(), "cache")
	big := bigFiles(tr)
	ok = t.Run("fresh cache", func(t *testing.T) {
		m := mountStore(t, st, cacheDir)
		if len(big) > 0 {
			p := m.path(big[0].rel)
			if got := getState(t, p); got != "absent" {
				t.Errorf("%s before any read: state %q, want absent", big[0].rel, got)
			}
			bounded(t, time.Minute, "reading a big file", func() {
				if err := readAndCheck(p, big[0].sum); err != nil {
					t.Error(err)
				}
			})
			if got := getState(t, p); got != "resident" {
				t.Errorf("%s after a full read: state %q, want resident", big[0].rel, got)
			}
		}
		start := time.Now()
		bounded(t, 3*time.Minute, "comparing the tree", func() { tr.verify(t, m.dir, false) })
		t.Logf("compared %d entries in %v", len(tr.nodes), time.Since(start).Round(time.Millisecond))
		status := m.status(t)
		if !strings.Contains(status, "staged 0 ") {
			t.Errorf("reading made files staged:\n%s", status)
		}
		m.unmount(t)
	})
	if !ok {
		return
	}
	t.Run("cached", func(t *testing.T) {
		m := mountStore(t, st, cacheDir)
		for _, n := range big {
			if got := getState(t, m.path(n.rel)); got != "resident" {
				t.Errorf("%s in a filled cache: state %q, want resident", n.rel, got)
			}
		}
		bounded(t, 3*time.Minute, "comparing the tree", func() { tr.verify(t, m.dir, false) })
		status := m.status(t)
		if tr := trafficRe.FindStringSubmatch(status); tr == nil || tr[2] != "0 B" {
			t.Errorf("reading cached content fetched from the store:\n%s", status)
		}
		m.unmount(t)
	})
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(seedFor(t), 1))
	tr := genTree(rng, treeOptions{dirs: 80, files: 2900, empty: 20, big: 5, bigSize: 4 << 20, symlinks: 40, hardlinks: 4, xattrs: 10})
	st := localStore(t)
	st.init(t)
	roundTrip(t, st, tr)
}

func TestNoPlaintextInStore(t *testing.T) {
	t.Parallel()
	const (
		contentMarker = "PlainContentMarker-7f3a9c"
		nameMarker    = "PlainNameMarker-2b8e41"
	)
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "")
	dir := nameMarker + "-dir"
	sub := filepath.Join(dir, "sub-"+nameMarker)
	if err := os.MkdirAll(m.path(sub), 0o755); err != nil {
		t.Fatal(err)
	}
	// Compressible: the marker over and over.
	repeated := bytes.Repeat([]byte(contentMarker+"\n"), (2<<20)/(len(contentMarker)+1))
	// Incompressible, with the marker every 4 KiB.
	mixed := content(7, 3<<20)
	for off := 0; off+len(contentMarker) < len(mixed); off += 4096 {
		copy(mixed[off:], contentMarker)
	}
	files := map[string][]byte{ // by path in the mount
		filepath.Join(dir, nameMarker+".txt"):         []byte("hello " + contentMarker + "\n"),
		filepath.Join(sub, "repeated-"+nameMarker):    repeated,
		filepath.Join(sub, "mixed-"+nameMarker+".db"): mixed,
		"empty-" + nameMarker:                         nil,
		"medium-" + nameMarker:                        bytes.Repeat([]byte(contentMarker), 400), // over the inline limit
	}
	bounded(t, time.Minute, "writing", func() {
		for rel, b := range files {
			if err := os.WriteFile(m.path(rel), b, 0o644); err != nil {
				t.Error(err)
			}
		}
		if err := os.Symlink("../target-"+nameMarker, m.path("link-"+nameMarker)); err != nil {
			t.Error(err)
		}
		if err := syscall.Setxattr(m.path(filepath.Join(dir, nameMarker+".txt")), "user.note", []byte(contentMarker), 0); err != nil {
			t.Error(err)
		}
	})
	m.unmount(t)

	secrets := leakForms(contentMarker, nameMarker)
	objects := storeObjects(t, st.url, "")
	kinds := map[string]int{}
	for _, name := range objects {
		kind, _, _ := strings.Cut(name, "/")
		kinds[kind]++
		b, err := os.ReadFile(filepath.Join(st.url, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) || strings.Contains(name, s) {
				t.Errorf("store object %s holds %q in plaintext", name, s)
			}
		}
	}
	t.Logf("store objects by kind: %v", kinds)
	if kinds["chunks"] == 0 || kinds["journal"] == 0 || kinds["config"] != 1 {
		t.Errorf("store lacks chunks, journal or config: %v", kinds)
	}
	t.Run("config is plain JSON", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(st.url, "config"))
		if err != nil {
			t.Fatal(err)
		}
		var cfg map[string]any
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatalf("config is not JSON: %v", err)
		}
		if bytes.Contains(b, []byte(testPassphrase)) {
			t.Error("config holds the passphrase")
		}
	})
	t.Run("content is there", func(t *testing.T) {
		// Proof that the markers did go into the store, encrypted.
		m := mountStore(t, st, "")
		bounded(t, time.Minute, "reading back", func() {
			for rel, want := range files {
				if got, err := os.ReadFile(m.path(rel)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: %d bytes, %v", rel, len(got), err)
				}
			}
			if got, err := os.Readlink(m.path("link-" + nameMarker)); err != nil || got != "../target-"+nameMarker {
				t.Errorf("symlink: %q %v", got, err)
			}
		})
		m.unmount(t)
	})
}

// leakForms returns the ways a marker could show in an object that leaks
// it: as is, lowercased, in hex and in base64 (each 3-byte alignment, so
// that the encoding of any text holding the marker contains one of them).
func leakForms(markers ...string) []string {
	var forms []string
	for _, m := range markers {
		forms = append(forms, m, strings.ToLower(m), hex.EncodeToString([]byte(m)))
		for shift := range 3 {
			b := []byte(m[shift:])
			b = b[:len(b)/3*3]
			forms = append(forms, base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b))
		}
	}
	return forms
}

var pendingRe = regexp.MustCompile(`(\d+) changes \(([0-9.]+ [KMG]?i?B)\) left to upload`)

func TestUnmountReportsPending(t *testing.T) {
	t.Parallel()
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "")
	restore := makeUnreachable(t, st)
	files := map[string][]byte{"small.txt": []byte("small\n"), "big.bin": content(3, 2<<20)}
	bounded(t, time.Minute, "writing", func() {
		for name, b := range files {
			if err := os.WriteFile(m.path(name), b, 0o644); err != nil {
				t.Error(err)
			}
		}
	})
	r := syncfs(t, nil, "unmount", "--wait", "2s", m.dir)
	if r.code != 0 || !strings.Contains(r.stdout, "unmounted") {
		t.Fatalf("unmount: %s", r)
	}
	waitDaemonGone(t, m.cache)
	got := pendingRe.FindStringSubmatch(r.stderr)
	if got == nil || got[1] == "0" {
		t.Errorf("unmount did not report the pending changes: %s", r)
	} else if !strings.Contains(got[2], "MiB") {
		t.Errorf("unmount reported %s pending, want about 2 MiB: %s", got[2], r)
	}
	if !strings.Contains(r.stderr, "next mount") {
		t.Errorf("unmount did not say when the rest goes: %s", r)
	}
	restore()

	t.Run("uploaded at the next mount", func(t *testing.T) {
		m2 := mountStore(t, st, m.cache)
		m2.waitUploaded(t, 30*time.Second)
		m2.unmount(t)
		m3 := mountStore(t, st, "")
		bounded(t, time.Minute, "reading back", func() {
			for name, want := range files {
				if b, err := os.ReadFile(m3.path(name)); err != nil || !bytes.Equal(b, want) {
					t.Errorf("%s after the upload: %d bytes, %v", name, len(b), err)
				}
			}
		})
		m3.unmount(t)
	})
}

// makeUnreachable swaps a local store's directory for a plain file, so that
// no upload can reach (or recreate) it, and returns the function that puts
// it back; a cleanup puts it back too.
func makeUnreachable(t *testing.T, st store) (restore func()) {
	t.Helper()
	away := st.url + ".away"
	if err := os.Rename(st.url, away); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.url, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	restore = func() {
		if fi, err := os.Stat(away); err == nil && fi.IsDir() {
			os.Remove(st.url)
			if err := os.Rename(away, st.url); err != nil {
				t.Errorf("restore the store: %v", err)
			}
		}
	}
	t.Cleanup(restore)
	return restore
}

func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, unreachable := range []bool{false, true} {
		// With the store unreachable the daemon is certainly killed
		// before it uploads; otherwise it may or may not have.
		name := "store reachable"
		if unreachable {
			name = "store unreachable"
		}
		t.Run(name, func(t *testing.T) { crashRecovery(t, unreachable) })
	}
}

// crashRecovery SIGKILLs the daemon right after a write and fsync, and
// checks that the data comes back and is uploaded.
func crashRecovery(t *testing.T, unreachable bool) {
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "")
	restore := func() {}
	if unreachable {
		restore = makeUnreachable(t, st)
	}
	files := map[string][]byte{"inline.txt": []byte("written before the crash\n"), "chunked.bin": content(11, 1500<<10)}
	bounded(t, time.Minute, "writing and fsyncing", func() {
		for name, b := range files {
			f, err := os.Create(m.path(name))
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := f.Write(b); err != nil {
				t.Error(err)
			}
			if err := f.Sync(); err != nil {
				t.Error(err)
			}
			if err := f.Close(); err != nil {
				t.Error(err)
			}
		}
	})
	for name := range files {
		state := getState(t, m.path(name))
		t.Logf("%s is %s when the daemon is killed", name, state)
		if unreachable && state != "staged" {
			t.Errorf("%s is %s with the store unreachable, want staged", name, state)
		}
	}
	pid := daemonPID(m.cache)
	if pid == 0 {
		t.Fatal("no daemon process found for the mount")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !poll(10*time.Second, func() bool { return !alive(pid) }) {
		t.Fatalf("daemon %d still alive after SIGKILL", pid)
	}
	r := syncfs(t, nil, "unmount", m.dir)
	if r.code != 0 || isMountPoint(m.dir) {
		t.Fatalf("unmount of the dead mount: %s", r)
	}
	t.Logf("unmount of a dead mount said: %s", strings.TrimSpace(r.stderr+r.stdout))
	restore()

	t.Run("same cache", func(t *testing.T) {
		m2 := mountAt(t, st, m.dir, m.cache)
		bounded(t, time.Minute, "reading back", func() {
			for name, want := range files {
				if b, err := os.ReadFile(m2.path(name)); err != nil || !bytes.Equal(b, want) {
					t.Errorf("%s after the crash: %d bytes, %v", name, len(b), err)
				}
			}
		})
		m2.waitUploaded(t, 30*time.Second)
		m2.unmount(t)
	})
	t.Run("fresh cache", func(t *testing.T) {
		m3 := mountStore(t, st, "")
		bounded(t, time.Minute, "reading back", func() {
			for name, want := range files {
				if b, err := os.ReadFile(m3.path(name)); err != nil || !bytes.Equal(b, want) {
					t.Errorf("%s from the store: %d bytes, %v", name, len(b), err)
				}
			}
		})
		m3.unmount(t)
	})
}

// TestCrashTraceInLog checks that what the Go runtime prints when the
// daemon dies (a panic; here SIGQUIT's goroutine dump) lands in the log
// rather than in /dev/null.
func TestCrashTraceInLog(t *testing.T) {
	t.Parallel()
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "")
	pid := daemonPID(m.cache)
	if pid == 0 {
		t.Fatal("no daemon process found for the mount")
	}
	if err := syscall.Kill(pid, syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	if !poll(10*time.Second, func() bool { return !alive(pid) }) {
		t.Fatalf("daemon %d still alive after SIGQUIT", pid)
	}
	if r := syncfs(t, nil, "unmount", m.dir); r.code != 0 || isMountPoint(m.dir) {
		t.Fatalf("unmount of the dead mount: %s", r)
	}
	if log := readLog(m.cache); !strings.Contains(log, "SIGQUIT") || !strings.Contains(log, "goroutine ") {
		t.Errorf("the runtime's trace is not in the log:\n%s", log)
	}
}

// TestLongCacheDir mounts with a cache directory whose control socket path
// is longer than a unix socket address holds.
func TestLongCacheDir(t *testing.T) {
	t.Parallel()
	st := localStore(t)
	st.init(t)
	cacheDir := filepath.Join(t.TempDir(), strings.Repeat("deep-directory-", 10), "cache")
	if len(filepath.Join(cacheDir, "control.sock")) <= 108 {
		t.Fatalf("cache path %s is not long enough", cacheDir)
	}
	m := mountStore(t, st, cacheDir)
	if err := os.WriteFile(m.path("f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := m.status(t); !strings.Contains(s, "cache:     "+cacheDir) {
		t.Errorf("status:\n%s", s)
	}
	m.unmount(t)
	if _, err := os.Stat(filepath.Join(cacheDir, "control.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left behind: %v", err)
	}
}
