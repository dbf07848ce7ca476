package main

// Tampering with a store's objects: reads of what they hold fail with EIO
// and a log line naming the object, everything else keeps working, and
// nothing panics.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeFiles writes files (by path in the mount, content) through m.
func writeFiles(t *testing.T, m *mount, files map[string][]byte) {
	t.Helper()
	bounded(t, time.Minute, "writing", func() {
		for rel, b := range files {
			if err := os.MkdirAll(filepath.Dir(m.path(rel)), 0o755); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(m.path(rel), b, 0o644); err != nil {
				t.Error(err)
			}
		}
	})
}

// readAll reads every file of files through m and returns the error of
// each that failed; a read that returns other content than written fails
// the test at once.
func readAll(t *testing.T, m *mount, files map[string][]byte) map[string]error {
	t.Helper()
	failed := map[string]error{}
	bounded(t, 2*time.Minute, "reading", func() {
		for rel, want := range files {
			got, err := os.ReadFile(m.path(rel))
			switch {
			case err != nil:
				failed[rel] = err
			case string(got) != string(want):
				t.Errorf("%s: read returned wrong content (%d bytes, want %d) without an error", rel, len(got), len(want))
			}
		}
	})
	return failed
}

// checkLog fails unless the daemon log names one of objects and has no
// panic in it.
func checkLog(t *testing.T, cacheDir string, objects ...string) {
	t.Helper()
	log := readLog(cacheDir)
	if strings.Contains(strings.ToLower(log), "panic") {
		t.Errorf("the daemon log shows a panic:\n%s", log)
	}
	for _, o := range objects {
		if strings.Contains(log, o) {
			return
		}
	}
	t.Errorf("the daemon log does not name any of %v:\n%s", objects, log)
}

// flipByte inverts one byte in the middle of a file.
func flipByte(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTampering(t *testing.T) {
	t.Parallel()
	st := localStore(t)
	st.init(t)
	rng := rand.New(rand.NewPCG(seedFor(t), 2))
	files := map[string][]byte{}
	for i := range 3 {
		files[fmt.Sprintf("big/file%d.bin", i)] = content(rng.Uint64(), 2<<20+rng.Int64N(2<<20))
	}
	for i := range 10 {
		files[fmt.Sprintf("small/file%d.txt", i)] = content(rng.Uint64(), 1+rng.Int64N(4000))
	}
	m := mountStore(t, st, "")
	writeFiles(t, m, files)
	m.unmount(t)
	chunks := storeObjects(t, st.url, "chunks")
	if len(chunks) < 4 {
		t.Fatalf("only %d chunks for three files of 2-4 MiB", len(chunks))
	}
	t.Logf("%d chunks", len(chunks))

	cases := []struct {
		name    string
		damage  func(t *testing.T, dir string) []string // returns the objects damaged
		maxHurt int                                     // files it can make unreadable
	}{
		{"flipped byte", func(t *testing.T, dir string) []string {
			name := chunks[rng.IntN(len(chunks))]
			flipByte(t, filepath.Join(dir, name))
			return []string{name}
		}, 1},
		{"swapped chunks", func(t *testing.T, dir string) []string {
			i := rng.IntN(len(chunks))
			j := (i + 1 + rng.IntN(len(chunks)-1)) % len(chunks)
			a, b := filepath.Join(dir, chunks[i]), filepath.Join(dir, chunks[j])
			tmp := a + ".tmp"
			if err := errors.Join(os.Rename(a, tmp), os.Rename(b, a), os.Rename(tmp, b)); err != nil {
				t.Fatal(err)
			}
			return []string{chunks[i], chunks[j]}
		}, 2},
		{"truncated chunk", func(t *testing.T, dir string) []string {
			name := chunks[rng.IntN(len(chunks))]
			p := filepath.Join(dir, name)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
			return []string{name}
		}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			copyDir(t, st.url, dir)
			damaged := c.damage(t, dir)
			t.Logf("damaged %v", damaged)
			m := mountStore(t, store{url: dir}, "", "--fetch-timeout", "20s")
			failed := readAll(t, m, files)
			if len(failed) == 0 || len(failed) > c.maxHurt {
				t.Errorf("%d files unreadable, want 1 to %d: %v", len(failed), c.maxHurt, failed)
			}
			for rel, err := range failed {
				if !strings.HasPrefix(rel, "big/") {
					t.Errorf("%s does not use any chunk, but: %v", rel, err)
				}
				if !errors.Is(err, syscall.EIO) {
					t.Errorf("%s: %v, want EIO", rel, err)
				}
			}
			checkLog(t, m.cache, damaged...)
			// Still serving, and still refusing rather than serving a
			// half-filled cache file.
			m.status(t)
			for rel := range failed {
				if _, err := os.ReadFile(m.path(rel)); !errors.Is(err, syscall.EIO) {
					t.Errorf("%s read again: %v, want EIO", rel, err)
				}
			}
			m.unmount(t)
		})
	}

	t.Run("damaged journal", func(t *testing.T) {
		st := localStore(t)
		st.init(t)
		cacheDir := filepath.Join(t.TempDir(), "cache")
		first := map[string][]byte{"one/a.txt": []byte("first batch\n"), "one/b.bin": content(1, 300<<10)}
		second := map[string][]byte{"two/c.txt": []byte("second batch\n"), "two/d.bin": content(2, 300<<10)}
		m := mountStore(t, st, cacheDir)
		writeFiles(t, m, first)
		m.unmount(t)
		m = mountStore(t, st, cacheDir)
		writeFiles(t, m, second)
		m.unmount(t)
		journal := storeObjects(t, st.url, "journal")
		if len(journal) < 2 {
			t.Fatalf("want at least two journal objects, have %v", journal)
		}
		last := journal[len(journal)-1]
		device := strings.Split(last, "/")[1]
		flipByte(t, filepath.Join(st.url, last))
		t.Logf("damaged %s of %v", last, journal)

		m = mountStore(t, st, "")
		var status string
		if !poll(20*time.Second, func() bool {
			status = m.status(t)
			return strings.Contains(status, "ERROR device "+device)
		}) {
			t.Errorf("status shows no ERROR line for device %s:\n%s", device, status)
		}
		if failed := readAll(t, m, first); len(failed) > 0 {
			t.Errorf("files of the earlier batch unreadable: %v", failed)
		}
		// Files of the damaged batch may be missing, never wrong.
		for rel, err := range readAll(t, m, second) {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: %v, want it readable or missing", rel, err)
			}
		}
		checkLog(t, m.cache, last)
		// Everything else keeps working: this device writes and uploads.
		writeFiles(t, m, map[string][]byte{"three/e.txt": []byte("after the damage\n")})
		m.waitUploaded(t, 30*time.Second)
		m.unmount(t)
	})
}
