package main

// End-to-end tests of syncfs versions and syncfs restore, through the
// built binary: on a mount (the daemon answers) and through --store with
// the mount gone.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// versionsOut is what syncfs versions --json prints.
type versionsOut struct {
	Path     string `json:"path"`
	Unsynced bool   `json:"unsynced"`
	Versions []struct {
		Version int    `json:"version"`
		Time    string `json:"time"`
		Device  string `json:"device"`
		Size    int64  `json:"size"`
		Note    string `json:"note"`
		Deleted bool   `json:"deleted"`
	} `json:"versions"`
}

func versionsJSON(t *testing.T, env []string, args ...string) versionsOut {
	t.Helper()
	r := mustSyncfs(t, env, append([]string{"versions", "--json"}, args...)...)
	var out versionsOut
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("versions --json: %v\n%s", err, r)
	}
	return out
}

// waitContent polls until path holds want (the kernel may show the old
// content for a moment after a restore made outside a write(2)).
func waitContent(t *testing.T, path, want string) {
	t.Helper()
	var got []byte
	var err error
	if !poll(10*time.Second, func() bool {
		got, err = os.ReadFile(path)
		return err == nil && string(got) == want
	}) {
		t.Fatalf("%s holds %q (%v), want %q", path, got, err, want)
	}
}

func writeString(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantFailure checks a rejected command: its exit code and one line on
// stderr saying msg.
func wantFailure(t *testing.T, r result, code int, msg string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("want exit %d and one line saying %q, got %s", code, msg, r)
	}
}

func TestVersionsRestore(t *testing.T) {
	st := localStore(t)
	st.init(t)
	m := mountStore(t, st, "", "--poll", "200ms")
	if err := os.Mkdir(m.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	notes := m.path("d/notes.txt")
	sync := func() { mustSyncfs(t, nil, "sync", m.dir) }
	writeString(t, notes, "first version\n")
	sync()
	writeString(t, notes, "second\n")
	sync()

	t.Run("list", func(t *testing.T) {
		r := mustSyncfs(t, nil, "versions", notes)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "VERSION  TIME") || !strings.Contains(lines[0], "NOTE") ||
			!strings.HasPrefix(lines[1], "1 ") || !strings.Contains(lines[1], "14 B") || !strings.HasSuffix(lines[2], "current") {
			t.Fatalf("versions table:\n%s", r.stdout)
		}
		out := versionsJSON(t, nil, notes)
		if len(out.Versions) != 2 || out.Versions[0].Size != 14 || out.Versions[1].Note != "current" || out.Unsynced {
			t.Fatalf("versions --json: %+v", out)
		}
	})

	t.Run("restore_version_and_undo", func(t *testing.T) {
		r := mustSyncfs(t, nil, "restore", notes, "--version", "1")
		if !strings.Contains(r.stdout, "restored version 1 of") {
			t.Fatalf("restore said: %s", r)
		}
		waitContent(t, notes, "first version\n")
		sync()
		out := versionsJSON(t, nil, notes)
		if len(out.Versions) != 3 || out.Versions[2].Note != "current" || out.Versions[2].Size != 14 {
			t.Fatalf("after restore: %+v", out)
		}
		mustSyncfs(t, nil, "restore", notes, "--version", "2")
		waitContent(t, notes, "second\n")
		sync()
	})

	t.Run("restore_at", func(t *testing.T) {
		out := versionsJSON(t, nil, notes)
		mustSyncfs(t, nil, "restore", notes, "--at", out.Versions[0].Time)
		waitContent(t, notes, "first version\n")
		sync()
		// Just before version 2: still version 1; at it: version 2.
		t2, err := time.Parse(time.RFC3339Nano, out.Versions[1].Time)
		if err != nil {
			t.Fatal(err)
		}
		mustSyncfs(t, nil, "restore", notes, "--at", t2.Format(time.RFC3339Nano))
		waitContent(t, notes, "second\n")
		sync()
	})

	t.Run("to_outside", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "out.txt")
		r := mustSyncfs(t, nil, "restore", notes, "--version", "1", "--to", dst)
		if !strings.Contains(r.stdout, "wrote version 1") {
			t.Fatalf("restore --to said: %s", r)
		}
		waitContent(t, dst, "first version\n")
		wantFailure(t, syncfs(t, nil, "restore", notes, "--version", "2", "--to", dst), exitUsage, "exists; give --force")
		waitContent(t, dst, "first version\n")
		mustSyncfs(t, nil, "restore", notes, "--version", "2", "--to", dst, "--force")
		waitContent(t, dst, "second\n")
		// A directory: the file goes in under its own name.
		mustSyncfs(t, nil, "restore", notes, "--version", "1", "--to", filepath.Dir(dst))
		waitContent(t, filepath.Join(filepath.Dir(dst), "notes.txt"), "first version\n")
	})

	t.Run("to_inside", func(t *testing.T) {
		mustSyncfs(t, nil, "restore", notes, "--version", "1", "--to", m.path("copy.txt"))
		waitContent(t, m.path("copy.txt"), "first version\n")
		wantFailure(t, syncfs(t, nil, "restore", notes, "--version", "2", "--to", m.path("copy.txt")), exitUsage, "exists; give --force")
		mustSyncfs(t, nil, "restore", notes, "--version", "2", "--to", m.path("copy.txt"), "--force")
		waitContent(t, m.path("copy.txt"), "second\n")
		waitContent(t, notes, "second\n")
	})

	t.Run("rejected", func(t *testing.T) {
		outside := filepath.Join(t.TempDir(), "f")
		writeString(t, outside, "x")
		for _, c := range []struct {
			name string
			args []string
			code int
			msg  string
		}{
			{"both", []string{"restore", notes, "--version", "1", "--at", "2026-11-22T10:00:00Z"}, exitUsage, "not both"},
			{"no such version", []string{"restore", notes, "--version", "99"}, exitUsage, "has no version 99"},
			{"before the first", []string{"restore", notes, "--at", "2000-01-01T00:00:00Z"}, exitUsage, "has no version at 2000-01-01T00:00:00Z"},
			{"bad time", []string{"restore", notes, "--at", "yesterday"}, exitUsage, "not an RFC 3339 time"},
			{"not on a mount", []string{"versions", outside}, exitNotMounted, "not on a syncfs mount"},
			{"restore not on a mount", []string{"restore", outside, "--version", "1"}, exitNotMounted, "not on a syncfs mount"},
			{"a directory", []string{"versions", m.path("d")}, exitUsage, "is a directory"},
			{"nothing there", []string{"versions", m.path("d/never")}, exitError, "no such file"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantFailure(t, syncfs(t, nil, c.args...), c.code, c.msg)
			})
		}
	})

	t.Run("deleted", func(t *testing.T) {
		if err := os.Remove(notes); err != nil {
			t.Fatal(err)
		}
		sync()
		r := mustSyncfs(t, nil, "versions", "--deleted", m.path("d"))
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME ") || !strings.Contains(lines[0], " DELETED ") || !strings.HasPrefix(lines[1], "notes.txt ") || !strings.Contains(lines[1], "7 B") {
			t.Fatalf("versions --deleted:\n%s", r.stdout)
		}
		out := versionsJSON(t, nil, notes)
		if last := out.Versions[len(out.Versions)-1]; !last.Deleted || last.Note != "deleted, earlier file" {
			t.Fatalf("history of the deleted file: %+v", out)
		}
		r = mustSyncfs(t, nil, "restore", notes)
		if !strings.Contains(r.stdout, "as a new file") {
			t.Fatalf("restore of a deleted file said: %s", r)
		}
		waitContent(t, notes, "second\n")
		sync()
		if r := mustSyncfs(t, nil, "versions", "--deleted", m.path("d")); strings.Contains(r.stdout, "notes.txt") {
			t.Fatalf("a restored file is still listed as deleted:\n%s", r.stdout)
		}
	})

	t.Run("delete_and_recreate", func(t *testing.T) {
		g := m.path("d/g.txt")
		writeString(t, g, "old file\n")
		sync()
		if err := os.Remove(g); err != nil {
			t.Fatal(err)
		}
		sync()
		writeString(t, g, "new file\n")
		sync()
		out := versionsJSON(t, nil, g)
		if len(out.Versions) != 3 || out.Versions[0].Note != "earlier file" || !out.Versions[1].Deleted || out.Versions[2].Note != "current" {
			t.Fatalf("history across a delete and create: %+v", out)
		}
		mustSyncfs(t, nil, "restore", g, "--version", "1")
		waitContent(t, g, "old file\n")
		sync()
	})

	restoredCount := len(versionsJSON(t, nil, notes).Versions)
	m.unmount(t)

	t.Run("store", func(t *testing.T) {
		sargs := func(args ...string) []string { return append(args, st.args()...) }
		out := versionsJSON(t, passEnv(), sargs("d/notes.txt")...)
		if len(out.Versions) != restoredCount {
			t.Fatalf("--store lists %d versions, the mount listed %d: %+v", len(out.Versions), restoredCount, out)
		}
		r := mustSyncfs(t, passEnv(), sargs("versions", "--deleted", "d")...)
		if strings.Contains(r.stdout, "notes.txt") || !strings.HasPrefix(r.stdout, "NAME") {
			t.Fatalf("versions --store --deleted:\n%s", r)
		}
		dst := filepath.Join(t.TempDir(), "from-store.txt")
		mustSyncfs(t, passEnv(), sargs("restore", "/d/notes.txt", "--version", "1", "--to", dst)...)
		waitContent(t, dst, "first version\n")
		r = mustSyncfs(t, passEnv(), sargs("restore", "d/notes.txt", "--version", "1")...)
		if !strings.Contains(r.stdout, "written to the store as device") {
			t.Fatalf("restore --store said: %s", r)
		}
		wantFailure(t, syncfs(t, passEnv(), sargs("restore", "d/notes.txt", "--version", "99")...), exitUsage, "has no version 99")

		m2 := mountAt(t, st, m.dir, m.cache, "--poll", "200ms")
		waitContent(t, m2.path("d/notes.txt"), "first version\n")
		if got := versionsJSON(t, nil, m2.path("d/notes.txt")); len(got.Versions) != restoredCount+1 {
			t.Fatalf("after the --store restore the mount lists %d versions, want %d", len(got.Versions), restoredCount+1)
		}
	})

	// Last: a prune with no version retention also drops the history
	// the checks above rely on.
	t.Run("pruned", func(t *testing.T) {
		m2 := mountAt(t, st, m.dir, m.cache, "--poll", "200ms")
		big := m2.path("big.bin")
		for i := range 2 {
			writeString(t, big, strings.Repeat(string(rune('a'+i)), 64<<10))
			sync()
		}
		mustSyncfs(t, nil, "prune", m2.dir, "--keep-versions-within", "0", "--wait", "0s")
		out := versionsJSON(t, nil, big)
		if len(out.Versions) != 2 || !strings.Contains(out.Versions[0].Note, "pruned") || strings.Contains(out.Versions[1].Note, "pruned") {
			t.Fatalf("versions after prune: %+v", out)
		}
		wantFailure(t, syncfs(t, nil, "restore", big, "--version", "1"), exitError, "version 1 of "+big+" was removed by prune")
		dst := filepath.Join(t.TempDir(), "big")
		wantFailure(t, syncfs(t, nil, "restore", big, "--version", "1", "--to", dst), exitError, "version 1 of "+big+" was removed by prune")
		if _, err := os.Stat(dst); !os.IsNotExist(err) {
			t.Fatalf("a failed restore left %s: %v", dst, err)
		}
	})
}
