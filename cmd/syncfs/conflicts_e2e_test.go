package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// conflictsOffline runs syncfs conflicts --store --json on st.
func conflictsOffline(t *testing.T, st store) (string, []jsonConflict) {
	t.Helper()
	r := mustSyncfs(t, passEnv(st.env...), append([]string{"conflicts", "--json"}, st.args()...)...)
	var out struct {
		Policy    string         `json:"policy"`
		Conflicts []jsonConflict `json:"conflicts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("conflicts --store --json: %v\n%s", err, r)
	}
	return out.Policy, out.Conflicts
}

// conflictsByKind returns the conflicts of one kind, keyed by the base
// name of their original.
func conflictsByKind(cs []jsonConflict, kind string) map[string]jsonConflict {
	out := map[string]jsonConflict{}
	for _, c := range cs {
		if c.Kind == kind {
			out[filepath.Base(c.Original)] = c
		}
	}
	return out
}

// TestConflictsNamesAndOffline makes every kind of conflict between two
// mounts that do not see each other's changes (one edit of a file on
// each; a file created under one name on each; a file on one and a
// directory on the other), then checks that syncfs conflicts lists them
// all, with both devices and times, on each mount and from the store
// alone (no mount), and that resolve settles name conflicts on every
// device.
func TestConflictsNamesAndOffline(t *testing.T) {
	st := localStore(t)
	st.init(t)
	a := mountStore(t, st, "", "--poll", "1h")
	b := mountStore(t, st, "", "--poll", "1h")
	write := func(p, body string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	syncAll := func() {
		t.Helper()
		for range 2 {
			for _, m := range []*mount{a, b} {
				mustSyncfs(t, nil, "sync", m.dir)
			}
		}
	}
	write(a.path("notes.txt"), "base\n")
	syncAll()
	write(a.path("notes.txt"), "edited on a\n")
	for _, n := range []string{"report.txt", "plan.txt", "todo.txt"} {
		write(a.path(n), n+" from a\n")
	}
	write(a.path("data"), "a file on a\n")
	mustSyncfs(t, nil, "sync", a.dir)
	// b's changes come later: b's versions and entries win, except that
	// the directory keeps the name against the file.
	write(b.path("notes.txt"), "edited on b\n")
	for _, n := range []string{"report.txt", "plan.txt", "todo.txt"} {
		write(b.path(n), n+" from b\n")
	}
	if err := os.Mkdir(b.path("data"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(b.path("data/inside"), "in b's directory\n")
	syncAll()

	check := func(t *testing.T, where string, cs []jsonConflict, abs func(string) string) {
		t.Helper()
		content, names := conflictsByKind(cs, "content"), conflictsByKind(cs, "name")
		if len(content) != 1 || len(names) != 4 || len(cs) != 5 {
			t.Fatalf("%s lists %d content and %d name conflicts, want 1 and 4: %+v", where, len(content), len(names), cs)
		}
		for n, c := range names {
			if c.Original != abs(n) || !strings.HasPrefix(c.Copy, abs(strings.TrimSuffix(n, filepath.Ext(n))+" (conflict ")) {
				t.Fatalf("%s: %s: %+v", where, n, c)
			}
			if c.Winner == nil || c.Loser.Device == c.Winner.Device || c.Loser.Time == "" || c.Winner.Time == "" {
				t.Fatalf("%s: %s: sides %+v %+v", where, n, c.Loser, c.Winner)
			}
		}
		if w := names["data"].What; w != "a file lost its name to a directory" {
			t.Fatalf("%s: data: %q", where, w)
		}
		if w := names["report.txt"].What; w != "two files under one name" {
			t.Fatalf("%s: report.txt: %q", where, w)
		}
		if d, r := names["data"], names["report.txt"]; d.Loser.Device != r.Loser.Device || d.Winner.Device != r.Winner.Device {
			t.Fatalf("%s: the directory (b's) should win against a's file, b's file against a's", where)
		}
	}
	for _, m := range []*mount{a, b} {
		check(t, m.dir, conflictsJSON(t, m), m.path)
	}
	t.Run("offline, from the store alone", func(t *testing.T) {
		policy, cs := conflictsOffline(t, st)
		if policy != "copy" {
			t.Fatalf("policy %q", policy)
		}
		check(t, "the store", cs, func(n string) string { return "/" + n })
		r := mustSyncfs(t, passEnv(), append([]string{"conflicts"}, st.args()...)...)
		if !strings.Contains(r.stdout, "KIND") || !strings.Contains(r.stdout, "/report (conflict ") || !strings.Contains(r.stdout, "settle one on a mount") {
			t.Fatalf("table:\n%s", r.stdout)
		}
	})

	onA := conflictsByKind(conflictsJSON(t, a), "name")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"theirs would replace a directory", []string{onA["data"].Copy, "--keep", "theirs"}, exitUsage, "is a directory: --keep theirs would replace it"},
		{"theirs, from the directory holding the name", []string{onA["data"].Original, "--keep", "theirs"}, exitUsage, "is a directory: --keep theirs would replace it"},
		{"the mount's root", []string{a.dir, "--keep", "mine"}, exitUsage, "is a directory: give a conflict copy"},
		{"keep theirs", []string{onA["report.txt"].Copy, "--keep", "theirs"}, exitOK, "takes the name"},
		{"keep mine, from the file holding the name", []string{a.path("todo.txt"), "--keep", "mine"}, exitOK, "removing"},
		{"keep both", []string{onA["plan.txt"].Copy, "--keep", "both"}, exitOK, "no longer listed"},
		{"keep mine, from the directory holding the name", []string{onA["data"].Original, "--keep", "mine"}, exitOK, "removing"},
		{"settled already", []string{onA["plan.txt"].Copy, "--keep", "mine"}, exitUsage, "is not a conflict copy and has none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := syncfs(t, nil, append([]string{"conflicts", "resolve"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("want exit %d and %q: %s", tc.code, tc.want, r)
			}
		})
	}
	syncAll()
	for _, m := range []*mount{a, b} {
		cs := conflictsJSON(t, m)
		if len(cs) != 1 || cs[0].Kind != "content" {
			t.Fatalf("%s still lists: %+v", m.dir, cs)
		}
		ns := names(t, m.dir)
		want := []string{"data", "notes (conflict", "notes.txt", filepath.Base(onA["plan.txt"].Copy), "plan.txt", "report.txt", "todo.txt"}
		if len(ns) != len(want) {
			t.Fatalf("%s holds %v", m.dir, ns)
		}
		for i, n := range ns {
			if !strings.HasPrefix(n, want[i]) {
				t.Fatalf("%s holds %v, want %v", m.dir, ns, want)
			}
		}
		for n, body := range map[string]string{"report.txt": "report.txt from a\n", "todo.txt": "todo.txt from b\n", "plan.txt": "plan.txt from b\n"} {
			if !hasContent(m.path(n), []byte(body)) {
				t.Fatalf("%s/%s does not hold %q", m.dir, n, body)
			}
		}
	}
	// What was removed or replaced stays in the versions of the name.
	for _, n := range []string{"report.txt", "todo.txt"} {
		r := mustSyncfs(t, nil, "versions", "--json", b.path(n))
		var out struct {
			Versions []jsonVersion `json:"versions"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatal(err)
		}
		devs, deleted := map[string]bool{}, false
		for _, v := range out.Versions {
			if v.Deleted {
				deleted = true
			} else {
				devs[v.Device] = true
			}
		}
		if !deleted || len(devs) != 2 {
			t.Fatalf("versions of %s do not keep both files' content and the removal:\n%s", n, r.stdout)
		}
	}
	if _, cs := conflictsOffline(t, st); len(cs) != 1 || !slices.ContainsFunc(cs, func(c jsonConflict) bool { return c.Kind == "content" }) {
		t.Fatalf("the store still lists: %+v", cs)
	}
}
