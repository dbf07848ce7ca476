package main

// Helpers for the end-to-end tests (*e2e_test.go): they build the syncfs
// binary once, run it as a user does (os/exec), and make sure that every
// mount they make is gone when its test ends, even on failure.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// syncfsBin is the binary TestMain builds; it is set once, before any test
// runs, and only read afterwards.
var syncfsBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse() // for testing.Verbose
	dir, err := os.MkdirTemp("", "syncfs-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	syncfsBin = filepath.Join(dir, "syncfs")
	start := time.Now()
	cmd := exec.Command(goTool(), "build", "-o", syncfsBin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build failed: %v\n%s", err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", syncfsBin, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}

// goTool finds the go command that runs the tests: the one on PATH (go
// test puts its own first), else the one in GOROOT.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// Passphrases used by the tests.
const (
	testPassphrase  = "correct horse battery staple"
	wrongPassphrase = "incorrect horse"
)

// cmdTimeout bounds every run of the binary; a flush of the big tree fits
// well inside it.
const cmdTimeout = 2 * time.Minute

// result is what one run of the binary produced.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("syncfs %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// cmdEnv returns the environment for the binary: this process's, without
// any syncfs passphrase or cloud credentials the caller did not ask for,
// plus extra (KEY=VALUE).
func cmdEnv(extra ...string) []string {
	drop := []string{"SYNCFS_PASSPHRASE=", "AWS_", "AZURE_STORAGE_", "STORAGE_EMULATOR_HOST="}
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// syncfs runs the binary with env (on top of cmdEnv) and args, bounded by
// cmdTimeout; it fails the test if the binary cannot run or is killed.
func syncfs(t testing.TB, env []string, args ...string) result {
	t.Helper()
	r, err := runBinary(cmdTimeout, env, args...)
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, r.stderr)
	}
	return r
}

// runBinary runs the binary like syncfs, but returns an error (a binary
// that could not start, or was killed at the deadline) rather than failing
// the test: for cleanups, which must go on.
func runBinary(timeout time.Duration, env []string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, syncfsBin, args...)
	cmd.Env = cmdEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// A daemon started by mount gets its own stdio (/dev/null), so Wait
	// does not wait for it; WaitDelay bounds it anyway.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.code = ee.ExitCode()
	default:
		r.code = -1
		return r, fmt.Errorf("syncfs %s: %w (deadline: %v)", strings.Join(args, " "), err, ctx.Err())
	}
	return r, nil
}

// mustSyncfs runs the binary and fails the test unless it exits 0.
func mustSyncfs(t testing.TB, env []string, args ...string) result {
	t.Helper()
	r := syncfs(t, env, args...)
	if r.code != 0 {
		t.Fatalf("unexpected failure: %s", r)
	}
	return r
}

// passEnv is the environment that supplies the test passphrase.
func passEnv(extra ...string) []string {
	return append([]string{"SYNCFS_PASSPHRASE=" + testPassphrase}, extra...)
}

// store is one store under test: its --store argument, the extra flags
// (--endpoint) and environment (credentials) every command needs.
type store struct {
	url   string
	flags []string
	env   []string
}

// localStore returns a store in a new directory (not created: init does).
func localStore(t testing.TB) store {
	return store{url: filepath.Join(t.TempDir(), "store")}
}

// args returns "--store URL" plus the store's own flags.
func (s store) args() []string {
	return append([]string{"--store", s.url}, s.flags...)
}

func (s store) init(t testing.TB) {
	t.Helper()
	r := mustSyncfs(t, passEnv(s.env...), append([]string{"init"}, s.args()...)...)
	if !strings.Contains(r.stdout, "created syncfs store") {
		t.Fatalf("init said: %s", r)
	}
}

// mount is one mounted store.
type mount struct {
	dir   string // the mount point
	cache string // the cache directory
	st    store
}

// newMountDirs returns a fresh empty mount point and cache directory path.
func newMountDirs(t testing.TB) (mnt, cacheDir string) {
	base := t.TempDir()
	mnt = filepath.Join(base, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	return mnt, filepath.Join(base, "cache")
}

// mountStore mounts st at a new mount point with cacheDir (a new one if
// empty) and registers a cleanup that unmounts it whatever happens.
func mountStore(t testing.TB, st store, cacheDir string, extra ...string) *mount {
	t.Helper()
	mnt, fresh := newMountDirs(t)
	if cacheDir == "" {
		cacheDir = fresh
	}
	return mountAt(t, st, mnt, cacheDir, extra...)
}

// mountAt mounts st at mnt with cacheDir, like mountStore.
func mountAt(t testing.TB, st store, mnt, cacheDir string, extra ...string) *mount {
	t.Helper()
	args := append([]string{"mount"}, st.args()...)
	args = append(args, "--cache-dir", cacheDir)
	args = append(args, extra...)
	args = append(args, mnt)
	// Registered before mounting, so that a mount that comes up although
	// the command reports a failure is still taken down.
	t.Cleanup(func() { forceUnmount(t, mnt, cacheDir) })
	r := syncfs(t, passEnv(st.env...), args...)
	if r.code != 0 {
		t.Fatalf("mount failed: %s\nlog:\n%s", r, readLog(cacheDir))
	}
	if !isMountPoint(mnt) {
		t.Fatalf("mount returned 0 but %s is not mounted: %s", mnt, r)
	}
	return &mount{dir: mnt, cache: cacheDir, st: st}
}

// path returns the path of rel inside the mount.
func (m *mount) path(rel string) string { return filepath.Join(m.dir, rel) }

// unmount unmounts with a flush and checks that it says so.
func (m *mount) unmount(t testing.TB) result {
	t.Helper()
	r := mustSyncfs(t, nil, "unmount", "--wait", "60s", m.dir)
	if !strings.Contains(r.stdout, "unmounted") {
		t.Fatalf("unmount did not say unmounted: %s", r)
	}
	if isMountPoint(m.dir) {
		t.Fatalf("%s still mounted after unmount", m.dir)
	}
	waitDaemonGone(t, m.cache)
	return r
}

// status runs syncfs status on the mount.
func (m *mount) status(t testing.TB) string {
	t.Helper()
	return mustSyncfs(t, nil, "status", m.dir).stdout
}

var queueRe = regexp.MustCompile(`queue:\s+(\d+) changes waiting, .* (\d+) sealed batches unsent`)

// waitUploaded polls status until nothing is waiting to be uploaded.
func (m *mount) waitUploaded(t testing.TB, within time.Duration) {
	t.Helper()
	var last string
	ok := poll(within, func() bool {
		last = m.status(t)
		q := queueRe.FindStringSubmatch(last)
		return q != nil && q[1] == "0" && q[2] == "0"
	})
	if !ok {
		t.Fatalf("uploads still pending after %v:\n%s\nlog:\n%s", within, last, readLog(m.cache))
	}
}

// poll calls cond every 50ms until it is true or within has passed.
func poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readLog returns the daemon log of a cache directory.
func readLog(cacheDir string) string {
	b, err := os.ReadFile(filepath.Join(cacheDir, "syncfs.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// mountInfo returns the "major:minor" device of the mount at dir, from
// /proc/self/mountinfo, without touching the (possibly dead) mount itself.
func mountInfo(dir string) (dev string, ok bool) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && unescapeMount(f[4]) == dir {
			dev, ok = f[2], true // the last one is the visible one
		}
	}
	return dev, ok
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// isMountPoint reports whether something is mounted at dir.
func isMountPoint(dir string) bool {
	_, ok := mountInfo(dir)
	return ok
}

// forceUnmount takes down the mount at mnt whatever its state: first as a
// user would (syncfs unmount --wait 5s); if that fails, it aborts the FUSE
// connection and detaches the mount, so that no request can hang this
// process. Then it makes sure the daemon of cacheDir has exited, killing it
// if need be.
func forceUnmount(t testing.TB, mnt, cacheDir string) {
	t.Helper()
	if isMountPoint(mnt) {
		r, err := runBinary(30*time.Second, nil, "unmount", "--wait", "5s", mnt)
		if err != nil || r.code != 0 || isMountPoint(mnt) {
			t.Errorf("cleanup: unmount failed (%v); aborting the connection: %s", err, r)
			dumpDaemon(t, cacheDir)
			for dev, ok := mountInfo(mnt); ok; dev, ok = mountInfo(mnt) {
				abortFUSE(dev)
				if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
					t.Errorf("cleanup: detach %s: %v", mnt, err)
					break
				}
			}
		}
	}
	if pid := daemonPID(cacheDir); pid > 0 {
		if !poll(10*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("cleanup: daemon %d of %s still running; killing it", pid, cacheDir)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// dumpDaemon asks a daemon that would not unmount for its goroutines
// (SIGQUIT: the Go runtime writes them to its stderr, which is its log, and
// exits) and logs the end of its log, so that a hang can be diagnosed from
// the test output alone.
func dumpDaemon(t testing.TB, cacheDir string) {
	t.Helper()
	pid := daemonPID(cacheDir)
	if pid <= 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGQUIT)
	poll(10*time.Second, func() bool { return !alive(pid) })
	log := readLog(cacheDir)
	const keep = 64 << 10
	if len(log) > keep {
		log = log[len(log)-keep:]
	}
	t.Logf("daemon %d (%s) goroutines after SIGQUIT, end of its log:\n%s", pid, cacheDir, log)
}

// abortFUSE aborts the FUSE connection of device "major:minor" through
// fusectl, mounting fusectl first if needed.
func abortFUSE(dev string) {
	const ctl = "/sys/fs/fuse/connections"
	_, minor, _ := strings.Cut(dev, ":")
	if _, err := os.Stat(filepath.Join(ctl, minor)); err != nil {
		syscall.Mount("fusectl", ctl, "fusectl", 0, "")
	}
	os.WriteFile(filepath.Join(ctl, minor, "abort"), []byte("1"), 0)
}

// daemonPID finds the running mount daemon that uses cacheDir, from
// /proc/*/cmdline, or returns 0.
func daemonPID(cacheDir string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if args[0] != syncfsBin || !slices.Contains(args, "--foreground") {
			continue
		}
		if slices.Contains(args, cacheDir) || slices.Contains(args, "--cache-dir="+cacheDir) {
			if alive(pid) {
				return pid
			}
		}
	}
	return 0
}

// alive reports whether pid runs (a zombie, which nobody may reap inside
// a container, counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// waitDaemonGone waits (bounded) until no daemon uses cacheDir.
func waitDaemonGone(t testing.TB, cacheDir string) {
	t.Helper()
	if !poll(15*time.Second, func() bool { return daemonPID(cacheDir) == 0 }) {
		t.Fatalf("daemon for %s still running after unmount", cacheDir)
	}
}

// bounded runs f in a goroutine and fails the test if it does not return
// within d; f may report with t.Error, or end the test with t.Fatal. A
// call stuck in the kernel on the mount is released later by the mount's
// cleanup, which aborts the connection.
func bounded(t testing.TB, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan bool, 1) // never blocks a late f
	go func() {
		returned := false
		defer func() { done <- returned }()
		f()
		returned = true
	}()
	select {
	case returned := <-done:
		// t.Fatal in f ends only f's goroutine: end the test too.
		if !returned {
			t.FailNow()
		}
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v", what, d)
	}
}

// getState returns the user.syncfs.state xattr of path.
// A hung daemon fails the test within a minute instead of hanging it.
func getState(t testing.TB, path string) string {
	t.Helper()
	buf := make([]byte, 128)
	var n int
	var err error
	bounded(t, time.Minute, "getxattr user.syncfs.state of "+path, func() {
		n, err = syscall.Getxattr(path, "user.syncfs.state", buf)
	})
	if err != nil {
		t.Fatalf("getxattr %s user.syncfs.state: %v", path, err)
	}
	return string(buf[:n])
}

// copyDir copies the regular files and directories of src to dst.
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// storeObjects lists the object files under a local store directory, by
// object name (relative, slash-separated), sorted.
func storeObjects(t testing.TB, dir, prefix string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(filepath.Join(dir, prefix), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	slices.Sort(names)
	return names
}
