package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Several devices on one store, each a real mount with its own daemon and
// cache, as on several machines: every kind of change made on one appears
// on the others, and edits made while one device is cut off all survive.

// propagationWait bounds how long a change may take to show on another
// mount (upload, then the other's poll every 300 ms).
const propagationWait = 20 * time.Second

// waitVisible polls cond every 20 ms until it holds, failing the test
// after propagationWait; it returns how long it took.
func waitVisible(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > propagationWait {
			t.Fatalf("%s: not visible after %v", what, propagationWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasContent reports whether the file at p holds want.
func hasContent(p string, want []byte) bool {
	b, err := os.ReadFile(p)
	return err == nil && bytes.Equal(b, want)
}

// gone reports whether nothing is at p.
func gone(p string) bool {
	_, err := os.Lstat(p)
	return os.IsNotExist(err)
}

func TestMultiDevicePropagation(t *testing.T) {
	st := localStore(t)
	st.init(t)
	a := mountStore(t, st, "", "--poll", "300ms")
	b := mountStore(t, st, "", "--poll", "300ms")
	c := mountStore(t, st, "", "--poll", "300ms")
	others := []*mount{b, c}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// seen waits until cond holds for the path rel on every other mount.
	seen := func(t *testing.T, what, rel string, cond func(p string) bool) {
		t.Helper()
		for _, m := range others {
			waitVisible(t, what+" on "+m.dir, func() bool { return cond(m.path(rel)) })
		}
	}
	must(os.Mkdir(a.path("d1"), 0o755))
	must(os.Mkdir(a.path("d2"), 0o755))
	seen(t, "mkdir", "d2", func(p string) bool { fi, err := os.Stat(p); return err == nil && fi.IsDir() })

	t.Run("create", func(t *testing.T) {
		must(os.WriteFile(a.path("d1/f.txt"), []byte("hello"), 0o644))
		seen(t, "create", "d1/f.txt", func(p string) bool { return hasContent(p, []byte("hello")) })
	})
	t.Run("write in place", func(t *testing.T) {
		f, err := os.OpenFile(a.path("d1/f.txt"), os.O_WRONLY, 0)
		must(err)
		_, err = f.WriteAt([]byte("J"), 0)
		must(err)
		must(f.Close())
		seen(t, "write", "d1/f.txt", func(p string) bool { return hasContent(p, []byte("Jello")) })
	})
	t.Run("append", func(t *testing.T) {
		f, err := os.OpenFile(a.path("d1/f.txt"), os.O_WRONLY|os.O_APPEND, 0)
		must(err)
		_, err = f.WriteString(", world")
		must(err)
		must(f.Close())
		seen(t, "append", "d1/f.txt", func(p string) bool { return hasContent(p, []byte("Jello, world")) })
	})
	t.Run("truncate", func(t *testing.T) {
		must(os.Truncate(a.path("d1/f.txt"), 4))
		seen(t, "truncate", "d1/f.txt", func(p string) bool { return hasContent(p, []byte("Jell")) })
	})
	t.Run("rename across directories", func(t *testing.T) {
		must(os.Rename(a.path("d1/f.txt"), a.path("d2/g.txt")))
		seen(t, "rename", "d2/g.txt", func(p string) bool { return hasContent(p, []byte("Jell")) })
		seen(t, "rename (old name)", "d1/f.txt", gone)
	})
	t.Run("chmod", func(t *testing.T) {
		must(os.Chmod(a.path("d2/g.txt"), 0o600))
		seen(t, "chmod", "d2/g.txt", func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && fi.Mode().Perm() == 0o600
		})
	})
	t.Run("chown", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("chown needs root")
		}
		must(os.Chown(a.path("d2/g.txt"), 1234, 5678))
		seen(t, "chown", "d2/g.txt", func(p string) bool {
			var s syscall.Stat_t
			return syscall.Stat(p, &s) == nil && s.Uid == 1234 && s.Gid == 5678
		})
	})
	t.Run("utimes", func(t *testing.T) {
		mt := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		must(os.Chtimes(a.path("d2/g.txt"), mt, mt))
		seen(t, "utimes", "d2/g.txt", func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && fi.ModTime().Equal(mt)
		})
	})
	t.Run("xattr set and remove", func(t *testing.T) {
		must(syscall.Setxattr(a.path("d2/g.txt"), "user.color", []byte("blue"), 0))
		seen(t, "setxattr", "d2/g.txt", func(p string) bool {
			buf := make([]byte, 64)
			n, err := syscall.Getxattr(p, "user.color", buf)
			return err == nil && string(buf[:n]) == "blue"
		})
		must(syscall.Removexattr(a.path("d2/g.txt"), "user.color"))
		seen(t, "removexattr", "d2/g.txt", func(p string) bool {
			_, err := syscall.Getxattr(p, "user.color", make([]byte, 64))
			return err == syscall.ENODATA
		})
	})
	t.Run("symlink", func(t *testing.T) {
		must(os.Symlink("d2/g.txt", a.path("link")))
		seen(t, "symlink", "link", func(p string) bool { s, err := os.Readlink(p); return err == nil && s == "d2/g.txt" })
	})
	t.Run("hard link", func(t *testing.T) {
		must(os.Link(a.path("d2/g.txt"), a.path("d1/h.txt")))
		seen(t, "hard link", "d1/h.txt", func(p string) bool {
			var s1, s2 syscall.Stat_t
			if syscall.Stat(p, &s1) != nil || syscall.Stat(filepath.Join(filepath.Dir(filepath.Dir(p)), "d2/g.txt"), &s2) != nil {
				return false
			}
			return s1.Ino == s2.Ino && s1.Nlink == 2 && hasContent(p, []byte("Jell"))
		})
	})
	t.Run("delete", func(t *testing.T) {
		must(os.Remove(a.path("d1/h.txt")))
		must(os.Remove(a.path("d2/g.txt")))
		seen(t, "delete", "d2/g.txt", gone)
		seen(t, "delete (link)", "d1/h.txt", gone)
	})
	t.Run("mkdir and rmdir", func(t *testing.T) {
		must(os.Mkdir(a.path("d3"), 0o750))
		seen(t, "mkdir", "d3", func(p string) bool {
			fi, err := os.Stat(p)
			return err == nil && fi.IsDir() && fi.Mode().Perm() == 0o750
		})
		must(os.Remove(a.path("d3")))
		seen(t, "rmdir", "d3", gone)
	})
	t.Run("listing", func(t *testing.T) {
		// The other mounts have listed d1 (the kernel keeps listings,
		// FOPEN_CACHE_DIR): a remote new name and a remote removal
		// must show in the next listing all the same.
		listed := func(dir string, name string) bool {
			ents, err := os.ReadDir(dir)
			if err != nil {
				return false
			}
			for _, e := range ents {
				if e.Name() == name {
					return true
				}
			}
			return false
		}
		for _, m := range others {
			if listed(m.path("d1"), "listed.txt") {
				t.Fatalf("%s lists d1/listed.txt before it exists", m.dir)
			}
		}
		must(os.WriteFile(a.path("d1/listed.txt"), []byte("x"), 0o644))
		seen(t, "listing after create", "d1", func(p string) bool { return listed(p, "listed.txt") })
		must(os.Remove(a.path("d1/listed.txt")))
		seen(t, "listing after delete", "d1", func(p string) bool { return !listed(p, "listed.txt") })
	})
	t.Run("propagation time", func(t *testing.T) {
		const n = 20
		var took []time.Duration
		for i := range n {
			rel := fmt.Sprintf("d1/lat-%02d", i)
			want := []byte(fmt.Sprintf("write %d", i))
			must(os.WriteFile(a.path(rel), want, 0o644)) // returns once written and closed on a
			took = append(took, waitVisible(t, rel+" on "+b.dir, func() bool { return hasContent(b.path(rel), want) }))
		}
		slices.Sort(took)
		t.Logf("propagation from a write returning on A to the content on B, %d writes (poll 300ms): median %v, max %v",
			n, took[n/2].Round(time.Millisecond), took[n-1].Round(time.Millisecond))
	})
}

// conflictsJSON runs syncfs conflicts --json on m.
func conflictsJSON(t *testing.T, m *mount) []jsonConflict {
	t.Helper()
	r := mustSyncfs(t, nil, "conflicts", "--json", m.dir)
	var out struct {
		Policy    string         `json:"policy"`
		Conflicts []jsonConflict `json:"conflicts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("conflicts --json: %v\n%s", err, r)
	}
	return out.Conflicts
}

// names lists a mount directory's names, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// TestMultiDeviceOfflineEdits runs three mounts as users would: a writes,
// b reads; then b is cut off (it polls once an hour, so it sees nothing
// until it syncs by hand) and both edit the same file; after syncing, both
// versions survive on every device, syncfs conflicts lists the conflict
// everywhere, and a resolve on one device settles it on all three.
func TestMultiDeviceOfflineEdits(t *testing.T) {
	for _, policy := range []string{"copy", "newest"} {
		t.Run(policy, func(t *testing.T) {
			st := localStore(t)
			st.init(t)
			if policy == "newest" {
				r := mustSyncfs(t, passEnv(), append([]string{"config", "set", "conflict", "newest"}, st.args()...)...)
				if !strings.Contains(r.stdout, "conflict policy is now newest") {
					t.Fatalf("config set said: %s", r)
				}
			}
			a := mountStore(t, st, "", "--poll", "300ms")
			b := mountStore(t, st, "", "--poll", "1h")
			c := mountStore(t, st, "", "--poll", "300ms")
			all := []*mount{a, b, c}

			if err := os.WriteFile(a.path("notes.txt"), []byte("base\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			mustSyncfs(t, nil, "sync", a.dir)
			mustSyncfs(t, nil, "sync", b.dir)
			if !hasContent(b.path("notes.txt"), []byte("base\n")) {
				t.Fatal("b does not read what a wrote after a sync")
			}

			// Both edit; b sees nothing of a's edit (no poll, no sync).
			if err := os.WriteFile(a.path("notes.txt"), []byte("edited on a\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			mustSyncfs(t, nil, "sync", a.dir)
			if err := os.WriteFile(b.path("notes.txt"), []byte("edited on b\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			// Reconnect: b's later edit wins on every device.
			for range 2 {
				for _, m := range []*mount{b, a} {
					mustSyncfs(t, nil, "sync", m.dir)
				}
			}
			for _, m := range all {
				waitVisible(t, "winner on "+m.dir, func() bool { return hasContent(m.path("notes.txt"), []byte("edited on b\n")) })
			}

			var cs []jsonConflict
			for _, m := range all {
				waitVisible(t, "conflict listed on "+m.dir, func() bool { cs = conflictsJSON(t, m); return len(cs) == 1 })
				cc := cs[0]
				if cc.Original != m.path("notes.txt") || cc.Winner == nil || cc.Loser.Device == cc.Winner.Device {
					t.Fatalf("%s lists %+v", m.dir, cc)
				}
				if policy == "copy" {
					if !strings.HasPrefix(cc.Copy, m.path("notes (conflict ")) || !hasContent(cc.Copy, []byte("edited on a\n")) {
						t.Fatalf("%s: the copy %q does not hold a's edit", m.dir, cc.Copy)
					}
				} else {
					if cc.Copy != "" || !cc.Kept || len(names(t, m.dir)) != 1 {
						t.Fatalf("%s: under newest, want only the winner and the loser in versions: %+v %v", m.dir, cc, names(t, m.dir))
					}
					r := mustSyncfs(t, nil, "versions", m.path("notes.txt"))
					if !strings.Contains(r.stdout, "conflict (lost)") {
						t.Fatalf("%s: versions does not show the loser:\n%s", m.dir, r.stdout)
					}
				}
			}
			r := mustSyncfs(t, nil, "conflicts", a.dir)
			if !strings.Contains(r.stdout, "LOSER (device, time)") || !strings.Contains(r.stdout, cs[0].Loser.Device) {
				t.Fatalf("conflicts table:\n%s", r.stdout)
			}

			// Settle on c; every device ends the same.
			want, wantNames := []byte("edited on a\n"), []string{"notes.txt"}
			if policy == "copy" {
				copyOnC := conflictsJSON(t, c)[0].Copy
				r = mustSyncfs(t, nil, "conflicts", "resolve", copyOnC, "--keep", "theirs")
			} else {
				r = mustSyncfs(t, nil, "conflicts", "resolve", c.path("notes.txt"), "--keep", "both")
				want = []byte("edited on b\n")
				wantNames = nil // the loser comes back beside it: checked below
			}
			t.Logf("resolve said: %s", strings.TrimSpace(r.stdout))
			mustSyncfs(t, nil, "sync", c.dir)
			for _, m := range all {
				if m == b {
					mustSyncfs(t, nil, "sync", b.dir)
				}
				waitVisible(t, "resolution on "+m.dir, func() bool {
					if !hasContent(m.path("notes.txt"), want) || len(conflictsJSON(t, m)) != 0 {
						return false
					}
					ns := names(t, m.dir)
					if wantNames != nil {
						return slices.Equal(ns, wantNames)
					}
					return len(ns) == 2 && strings.HasPrefix(ns[0], "notes (conflict ") && hasContent(m.path(ns[0]), []byte("edited on a\n"))
				})
			}
			// Every content stays in versions: base, a's edit, b's edit and
			// the resolve's new version.
			r = mustSyncfs(t, nil, "versions", "--json", b.path("notes.txt"))
			if !strings.Contains(r.stdout, `"version": 4`) {
				t.Fatalf("versions after resolve:\n%s", r.stdout)
			}
		})
	}
}

func TestConflictsResolveRejects(t *testing.T) {
	st := localStore(t)
	st.init(t)
	a := mountStore(t, st, "")
	if err := os.WriteFile(a.path("plain.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(a.path("dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no conflicts", nil, []string{"conflicts", a.dir}, exitOK, "no conflicts (policy copy)"},
		{"not a conflict", nil, []string{"conflicts", "resolve", a.path("plain.txt"), "--keep", "mine"}, exitUsage, "is not a conflict copy and has none"},
		{"bad keep", nil, []string{"conflicts", "resolve", a.path("plain.txt"), "--keep", "yours"}, exitUsage, "want mine, theirs or both"},
		{"no keep", nil, []string{"conflicts", "resolve", a.path("plain.txt")}, exitUsage, "--keep mine, theirs or both is required"},
		{"a directory", nil, []string{"conflicts", "resolve", a.path("dir"), "--keep", "mine"}, exitUsage, "is a directory"},
		{"missing file", nil, []string{"conflicts", "resolve", a.path("nope.txt"), "--keep", "mine"}, exitError, "no such file"},
		{"not on a mount", nil, []string{"conflicts", outside}, exitNotMounted, "not on a syncfs mount"},
		{"bad policy", nil, []string{"config", "set", "conflict", "oldest", a.dir}, exitUsage, "want copy or newest"},
		{"bad setting", nil, []string{"config", "set", "color", "blue", a.dir}, exitUsage, "unknown setting"},
		{"policy on the mount", nil, []string{"config", "set", "conflict", "newest", a.dir}, exitOK, "uses it at once"},
		{"policy listed", nil, []string{"conflicts", a.dir}, exitOK, "no conflicts (policy newest)"},
		{"policy on the store", passEnv(), append([]string{"config", "set", "conflict", "copy"}, st.args()...), exitOK, "running mounts pick it up"},
		{"offline", passEnv(), append([]string{"conflicts"}, st.args()...), exitOK, "no conflicts (policy copy)"},
		{"offline and a mount point", passEnv(), append([]string{"conflicts", a.dir}, st.args()...), exitUsage, "give a mount point or --store, not both"},
		{"offline, wrong passphrase", []string{"SYNCFS_PASSPHRASE=" + wrongPassphrase}, append([]string{"conflicts"}, st.args()...), exitPassphrase, "wrong passphrase"},
		{"offline, no passphrase", nil, append([]string{"conflicts"}, st.args()...), exitUsage, "passphrase"},
		{"offline, missing store", passEnv(), []string{"conflicts", "--store", filepath.Join(outside, "no-such-store")}, exitStore, "no-such-store"},
		{"offline, unreachable store", passEnv("AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"),
			[]string{"conflicts", "--store", "s3://bucket/x", "--endpoint", "http://127.0.0.1:1"}, exitStore, "connection refused"},
		{"resolve offline", passEnv(), append([]string{"conflicts", "resolve", "notes.txt", "--keep", "mine"}, st.args()...), exitUsage, "unknown flag: --store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := syncfs(t, tc.env, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("want exit %d and %q: %s", tc.code, tc.want, r)
			}
		})
	}
}
