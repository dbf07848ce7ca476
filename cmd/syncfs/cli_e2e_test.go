package main

// Rejected inputs: each gives its exit code (errors.go) and one line on
// stderr, and leaves nothing mounted.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// editConfig rewrites one field of a local store's config JSON.
func editConfig(t *testing.T, dir, field string, value any) {
	t.Helper()
	p := filepath.Join(dir, "config")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("config is not JSON: %v", err)
	}
	if _, ok := cfg[field]; !ok {
		t.Fatalf("config has no field %q: %s", field, b)
	}
	cfg[field] = value
	if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRejectedInputs(t *testing.T) {
	t.Parallel()
	st := localStore(t)
	st.init(t)
	base := t.TempDir()
	dir := func(name string) string { return filepath.Join(base, name) }
	mkdir := func(name string) string {
		if err := os.MkdirAll(dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		return dir(name)
	}
	file := func(name, body string) string {
		if err := os.WriteFile(dir(name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir(name)
	}
	mnt := mkdir("mnt")
	nonEmpty := mkdir("full")
	file("full/x", "x")
	wrongFile := file("wrong-pass", wrongPassphrase+"\n")
	emptyFile := file("empty-pass", "")
	aFile := file("a-file", "x")
	otherDir := mkdir("other")
	file("other/unrelated", "not a store")

	format99 := filepath.Join(base, "format99")
	copyDir(t, st.url, format99)
	editConfig(t, format99, "format", 99)
	badMAC := filepath.Join(base, "badmac")
	copyDir(t, st.url, badMAC)
	editConfig(t, badMAC, "inline_max", 8192)

	// A live mount, for "cache in use" and "already mounted".
	busy := mountStore(t, st, "")

	cache := func() string { return filepath.Join(t.TempDir(), "cache") }
	mountArgs := func(storeURL string, extra ...string) []string {
		return append([]string{"mount", "--store", storeURL, "--cache-dir", cache()}, extra...)
	}
	cases := []struct {
		name string
		env  []string
		args []string
		code int
		want string // in the message
	}{
		{"unknown flag", passEnv(), []string{"mount", "--bogus", mnt}, exitUsage, "unknown flag"},
		{"unknown command", passEnv(), []string{"mount-all"}, exitUsage, "unknown command"},
		{"init without store", passEnv(), []string{"init"}, exitUsage, "--store"},
		{"mount without store", passEnv(), []string{"mount", "--cache-dir", cache(), mnt}, exitUsage, "--store"},
		{"mount without mountpoint", passEnv(), mountArgs(st.url), exitUsage, "MOUNTPOINT"},
		{"mount with two mountpoints", passEnv(), mountArgs(st.url, mnt, nonEmpty), exitUsage, "MOUNTPOINT"},
		{"unknown store scheme", passEnv(), mountArgs("ftp://host/x", mnt), exitUsage, "scheme"},
		{"no passphrase", nil, mountArgs(st.url, mnt), exitUsage, "passphrase"},
		{"wrong passphrase", []string{"SYNCFS_PASSPHRASE=" + wrongPassphrase}, mountArgs(st.url, mnt), exitPassphrase, "wrong passphrase"},
		{"wrong passphrase file", nil, mountArgs(st.url, "--passphrase-file", wrongFile, mnt), exitPassphrase, "wrong passphrase"},
		{"empty passphrase file", nil, mountArgs(st.url, "--passphrase-file", emptyFile, mnt), exitUsage, "empty"},
		{"missing store directory", passEnv(), mountArgs(dir("no-such-store"), mnt), exitStore, "no-such-store"},
		{"directory that is not a store", passEnv(), mountArgs(otherDir, mnt), exitStore, "not a syncfs store"},
		{"init on an initialized store", passEnv(), []string{"init", "--store", st.url}, exitAlreadyCreated, "not empty"},
		{"init on a non-empty directory", passEnv(), []string{"init", "--store", otherDir}, exitAlreadyCreated, "not empty"},
		{"unknown format", passEnv(), mountArgs(format99, mnt), exitFormat, "99"},
		{"config MAC broken", passEnv(), mountArgs(badMAC, mnt), exitFormat, "config"},
		{"non-empty mountpoint", passEnv(), mountArgs(st.url, nonEmpty), exitMountpoint, "not empty"},
		{"missing mountpoint", passEnv(), mountArgs(st.url, dir("no-such-mnt")), exitMountpoint, "no-such-mnt"},
		{"mountpoint is a file", passEnv(), mountArgs(st.url, aFile), exitMountpoint, "not a directory"},
		{"mountpoint already mounted", passEnv(), mountArgs(st.url, busy.dir), exitMountpoint, "mount point"},
		{"cache directory in use", passEnv(), []string{"mount", "--store", st.url, "--cache-dir", busy.cache, mnt}, exitBusy, "in use"},
		{"status of a plain directory", nil, []string{"status", nonEmpty}, exitNotMounted, "not a syncfs mount"},
		{"unmount of a plain directory", nil, []string{"unmount", nonEmpty}, exitNotMounted, "not a syncfs mount"},
		{"sync of a plain directory", nil, []string{"sync", nonEmpty}, exitNotMounted, "not a syncfs mount"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := syncfs(t, c.env, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d: %s", r.code, c.code, r)
			}
			msg := strings.TrimSuffix(r.stderr, "\n")
			if msg == "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "syncfs: ") {
				t.Errorf("stderr is not one line starting with \"syncfs: \": %q", r.stderr)
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not mention %q", msg, c.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
			if isMountPoint(mnt) {
				t.Errorf("%s got mounted", mnt)
				forceUnmount(t, mnt, "")
			}
		})
	}
	t.Run("live mount unharmed", func(t *testing.T) {
		if err := os.WriteFile(busy.path("still-works"), []byte("yes"), 0o644); err != nil {
			t.Fatal(err)
		}
		busy.unmount(t)
	})
}
