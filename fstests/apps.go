package fstests

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Apps maps the name of each application check to the check: real tools
// (git, tar, sqlite3, rsync, the Go toolchain) doing ordinary work in the
// directory. Like All it is a fixed table. The tools must be installed
// (scripts/test installs them); a missing one fails the check.
var Apps = map[string]func(t *testing.T, dir string){
	"GitRepo":           GitRepo,
	"GoBuild":           GoBuild,
	"RsyncRoundTrip":    RsyncRoundTrip,
	"SqliteConcurrent":  SqliteConcurrent,
	"TarExtractCompare": TarExtractCompare,
}

// RunApps runs every check in Apps as a subtest named after it, each in a
// directory of its own from dir.
func RunApps(t *testing.T, dir func(t *testing.T) string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(Apps)) {
		check := Apps[name]
		t.Run(name, func(t *testing.T) {
			check(t, dir(t))
		})
	}
}

// appTimeout bounds one tool run.
const appTimeout = 5 * time.Minute

// run runs a tool with its working directory set to dir and returns its
// standard output; a failure or a run longer than appTimeout fails the
// test, with the tool's output.
//
// The directory is entered by a shell, never by the runtime: os/exec starts
// the child with vfork, which holds this thread until the child has
// changed directory and exec'd, and a collector stopping the world
// meanwhile would wait for that thread while a file system served by this
// same process waits for the collector.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(dir string, env []string, name string, args ...string) (string, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not installed: %w", name, err)
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", `cd "$0" && exec "$@"`, dir, path}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(appTimeout):
		_ = cmd.Process.Kill()
		<-done
		err = fmt.Errorf("still running after %v: killed", appTimeout)
	}
	return out.String(), err
}

// writeTree makes files files under root in nested directories, each with
// content of its own, and returns their relative paths.
func writeTree(t *testing.T, root string, files int) []string {
	t.Helper()
	var paths []string
	for i := range files {
		rel := filepath.Join(fmt.Sprintf("d%02d", i%37), fmt.Sprintf("e%d", i%5), fmt.Sprintf("f%05d.txt", i))
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		body := strings.Repeat(fmt.Sprintf("line %d of file %d\n", i%7, i), 1+i%13)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, rel)
	}
	return paths
}

// gitEnv keeps git away from the user's configuration.
func gitEnv(home string) []string {
	return []string{"HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_TERMINAL_PROMPT=0"}
}

// GitRepo checks a small git repository in the directory: init, add,
// commit, a clean status, a change seen and undone by checkout, branches,
// and git fsck.
func GitRepo(t *testing.T, dir string) {
	env := gitEnv(t.TempDir())
	repo := join(dir, "repo")
	mustMkdir(t, repo)
	run(t, repo, env, "git", "init", "-q", "-b", "main")
	writeTree(t, repo, 60)
	if err := os.WriteFile(join(repo, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, repo, env, "git", "add", "-A")
	run(t, repo, env, "git", "commit", "-q", "-m", "first")
	if out := run(t, repo, env, "git", "status", "--porcelain"); out != "" {
		t.Errorf("status after commit: %q, want clean", out)
	}
	p := join(repo, "d00", "e0", "f00000.txt")
	orig := readFile(t, p)
	if err := os.WriteFile(p, []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(t, repo, env, "git", "status", "--porcelain"); !strings.Contains(out, "f00000.txt") {
		t.Errorf("status after a change: %q, want the changed file", out)
	}
	run(t, repo, env, "git", "checkout", "--", ".")
	expectBytes(t, "file after checkout", readFile(t, p), orig)
	run(t, repo, env, "git", "checkout", "-q", "-b", "side")
	if err := os.Remove(join(repo, "run.sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(join(repo, "new.txt"), []byte("on side\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, repo, env, "git", "add", "-A")
	run(t, repo, env, "git", "commit", "-q", "-m", "side")
	run(t, repo, env, "git", "checkout", "-q", "main")
	if st, err := os.Stat(join(repo, "run.sh")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("run.sh back on main: %v %v, want mode 0755", st, err)
	}
	expectMissing(t, join(repo, "new.txt"))
	if out := run(t, repo, env, "git", "log", "--oneline", "side"); strings.Count(out, "\n") != 2 {
		t.Errorf("log of side: %q, want two commits", out)
	}
	run(t, repo, env, "git", "gc", "-q")
	run(t, repo, env, "git", "fsck", "--strict", "--no-progress")
	if out := run(t, repo, env, "git", "status", "--porcelain"); out != "" {
		t.Errorf("status at the end: %q, want clean", out)
	}
}

// TarExtractCompare checks extracting a tree of 5,000 files from a tar
// archive into the directory: diff -r finds the copy equal to the source,
// and tar --compare finds every size, mode and modification time kept.
func TarExtractCompare(t *testing.T, dir string) {
	src := t.TempDir()
	writeTree(t, join(src, "tree"), 5000)
	archive := join(t.TempDir(), "tree.tar")
	run(t, src, nil, "tar", "-cf", archive, "tree")
	run(t, dir, nil, "tar", "-xf", archive)
	run(t, dir, nil, "diff", "-r", join(src, "tree"), join(dir, "tree"))
	run(t, dir, nil, "tar", "--compare", "-f", archive)
}

// SqliteConcurrent checks SQLite databases in the directory written by
// several sqlite3 processes at once, in rollback-journal mode (which
// relies on POSIX locks) and in WAL mode (which also maps its shared
// memory file): every row arrives and the database checks as intact.
func SqliteConcurrent(t *testing.T, dir string) {
	for _, mode := range []string{"delete", "wal"} {
		t.Run(mode, func(t *testing.T) {
			db := join(dir, mode+".db")
			run(t, dir, nil, "sqlite3", db, "PRAGMA journal_mode="+mode+"; CREATE TABLE t(w INTEGER, i INTEGER, v TEXT);")
			const writers, rows = 4, 50
			var wg sync.WaitGroup
			errs := make([]error, writers)
			outs := make([]string, writers)
			for w := range writers {
				var sql strings.Builder
				sql.WriteString(".timeout 60000\n")
				for i := range rows {
					fmt.Fprintf(&sql, "BEGIN IMMEDIATE; INSERT INTO t VALUES(%d, %d, hex(randomblob(64))); COMMIT;\n", w, i)
				}
				script := join(t.TempDir(), "w.sql")
				if err := os.WriteFile(script, []byte(sql.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[w], errs[w] = runErr(dir, nil, "sqlite3", "-bail", db, ".read "+script)
				}()
			}
			wg.Wait()
			for w, err := range errs {
				if err != nil {
					t.Errorf("writer %d: %v\n%s", w, err, outs[w])
				}
			}
			got := run(t, dir, nil, "sqlite3", db, "SELECT count(*), count(DISTINCT w*1000+i) FROM t; PRAGMA integrity_check;")
			want := fmt.Sprintf("%d|%d\nok\n", writers*rows, writers*rows)
			if got != want {
				t.Errorf("rows and integrity: got %q, want %q", got, want)
			}
		})
	}
}

// RsyncRoundTrip checks rsync -a (with hard links and extended attributes)
// onto the directory and back: the tree that comes back equals the source
// in content, and a second rsync finds nothing to change, so every mode,
// owner, symlink, hard link, xattr and modification time was kept.
func RsyncRoundTrip(t *testing.T, dir string) {
	src := join(t.TempDir(), "src")
	writeTree(t, src, 200)
	extra := []struct {
		name string
		do   func(p string) error
	}{
		{"exec.sh", func(p string) error { return os.WriteFile(p, []byte("#!/bin/sh\n"), 0o750) }},
		{"link", func(p string) error { return os.Symlink("d00/e0/f00000.txt", p) }},
		{"dangling", func(p string) error { return os.Symlink("nowhere", p) }},
		{"hard", func(p string) error { return os.Link(join(src, "d01", "e1", "f00001.txt"), p) }},
		{"empty", func(p string) error { return os.WriteFile(p, nil, 0o600) }},
		{"emptydir", func(p string) error { return os.Mkdir(p, 0o700) }},
		{"old", func(p string) error {
			if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
				return err
			}
			return os.Chtimes(p, time.Unix(1e9, 123456789), time.Unix(1e9, 987654321))
		}},
		{"owned", func(p string) error {
			if err := os.WriteFile(p, []byte("x"), 0o640); err != nil {
				return err
			}
			return os.Lchown(p, 65534, 65534)
		}},
		{"xattr", func(p string) error {
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				return err
			}
			return setxattr(p, "user.note", "kept")
		}},
	}
	for _, e := range extra {
		if err := e.do(join(src, e.name)); err != nil {
			t.Fatalf("make %s: %v", e.name, err)
		}
	}
	back := join(t.TempDir(), "back")
	run(t, dir, nil, "rsync", "-aHX", src+"/", join(dir, "tree")+"/")
	run(t, dir, nil, "rsync", "-aHX", join(dir, "tree")+"/", back+"/")
	run(t, dir, nil, "diff", "-r", "--no-dereference", src, back)
	for _, to := range []string{join(dir, "tree"), back} {
		if out := run(t, dir, nil, "rsync", "-aHXni", "--delete", src+"/", to+"/"); out != "" {
			t.Errorf("a second rsync onto %s would change:\n%s", to, out)
		}
	}
	if st := mustLstat(t, join(back, "hard")); st.Nlink != 2 {
		t.Errorf("hard link after the round trip: %d links, want 2", st.Nlink)
	}
}

// GoBuild checks building and running a Go program whose source, module
// and build cache all live in the directory.
func GoBuild(t *testing.T, dir string) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	src := join(dir, "prog")
	mustMkdir(t, src)
	files := map[string]string{
		"go.mod":         "module example.com/prog\n\ngo 1.21\n",
		"main.go":        "package main\n\nimport (\n\t\"fmt\"\n\t\"example.com/prog/greet\"\n)\n\nfunc main() { fmt.Println(greet.Hello(\"mount\")) }\n",
		"greet/greet.go": "// Package greet greets.\npackage greet\n\n// Hello greets name.\nfunc Hello(name string) string { return \"hello, \" + name }\n",
	}
	for name, body := range files {
		p := join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"GOCACHE=" + join(dir, "gocache"), "GOPATH=" + join(dir, "gopath"), "GOTOOLCHAIN=local",
		"GOPROXY=off", "GOFLAGS=-mod=mod", "CGO_ENABLED=0", "HOME=" + t.TempDir()}
	run(t, src, env, goTool, "build", "-o", join(dir, "prog.bin"), ".")
	if out := run(t, dir, nil, join(dir, "prog.bin")); out != "hello, mount\n" {
		t.Errorf("the program printed %q", out)
	}
	// A second build comes from the cache on the mount.
	run(t, src, env, goTool, "build", "-o", join(dir, "prog2.bin"), ".")
	expectBytes(t, "a rebuilt program", readFile(t, join(dir, "prog2.bin")), readFile(t, join(dir, "prog.bin")))
}

func setxattr(path, name, value string) error {
	return ignoringEINTR(func() error { return unix.Setxattr(path, name, []byte(value), 0) })
}
