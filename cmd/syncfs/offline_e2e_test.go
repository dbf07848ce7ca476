package main

// The offline test: a mount of an S3 store whose server (a versitygw
// process of the test's own, on its own port and data directory) is
// stopped and later started again. While the store is down, local data
// keeps working, new writes queue up as Staged and a read of Absent content
// fails with EIO after --fetch-timeout; once it is back, the queue drains
// without any syncfs command.

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/syncfs/syncfs/blobstore/storetest"
)

// Credentials of the test's own versitygw: it accepts any root key pair it
// is started with, and serves loopback only.
const (
	offlineAccessKey = "syncfsoffline"
	offlineSecretKey = "syncfs-offline-test-secret-key"
	offlineRegion    = "us-east-1"
)

// versitygwBin finds versitygw where scripts/servers.sh builds it
// (SYNCFS_TOOLS_BIN, else SYNCFS_TOOLS_DIR/bin, else
// ~/.cache/syncfs-tools/bin), or on PATH; "" if it is not installed.
func versitygwBin() string {
	var dirs []string
	if d := os.Getenv("SYNCFS_TOOLS_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	if d := os.Getenv("SYNCFS_TOOLS_DIR"); d != "" {
		dirs = append(dirs, filepath.Join(d, "bin"))
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = "/tmp"
	}
	dirs = append(dirs, filepath.Join(home, ".cache", "syncfs-tools", "bin"))
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	return ""
}

// s3Server is one versitygw process the test starts, stops and starts
// again, always on the same port and data directory.
type s3Server struct {
	bin  string
	port int
	root string // the posix backend's directory
	log  string // the server's output, appended to by every start

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited (and been waited for)
}

func (s *s3Server) endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startS3Server starts versitygw on a free port with a new data directory,
// or skips the test (fails it, under SYNCFS_REQUIRE_SERVERS=1) if versitygw
// is not installed. The server is stopped when the test ends.
func startS3Server(t *testing.T) *s3Server {
	t.Helper()
	bin := versitygwBin()
	if bin == "" {
		storetest.RequireServer(t, "versitygw (built by scripts/servers.sh into ~/.cache/syncfs-tools/bin)")
	}
	dir := t.TempDir() // removed after the cleanup below has stopped the server
	s := &s3Server{bin: bin, root: filepath.Join(dir, "root"), log: filepath.Join(dir, "versitygw.log")}
	if err := os.Mkdir(s.root, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	// A server that exits at once most likely lost its port to another
	// process between freePort and its own listen: try another port.
	var err error
	for range 5 {
		s.port = freePort(t)
		if err = s.start(30 * time.Second); err == nil {
			return s
		}
		t.Logf("versitygw on port %d: %v", s.port, err)
	}
	t.Fatalf("versitygw did not start: %v\nits log:\n%s", err, s.output())
	return nil
}

// start starts the server on s.port and waits (bounded) until it answers
// its health check; it fails if the process exits first.
func (s *s3Server) start(within time.Duration) error {
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	// --keep-alive as servers.sh starts it: otherwise every request pays a
	// TCP handshake.
	cmd := exec.Command(s.bin, "--port", fmt.Sprintf("127.0.0.1:%d", s.port), "--health", "/health",
		"--keep-alive", "--quiet", "posix", s.root)
	cmd.Env = append(cmdEnv(), "ROOT_ACCESS_KEY="+offlineAccessKey, "ROOT_SECRET_KEY="+offlineSecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	client := &http.Client{Timeout: 2 * time.Second}
	exited := false
	up := poll(within, func() bool {
		select {
		case <-done:
			exited = true
			return true
		default:
		}
		resp, err := client.Get(s.endpoint() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	client.CloseIdleConnections()
	switch {
	case exited:
		s.cmd, s.done = nil, nil
		return fmt.Errorf("versitygw exited before answering: %v", cmd.ProcessState)
	case !up:
		s.stop()
		return fmt.Errorf("versitygw did not answer on port %d within %v", s.port, within)
	}
	return nil
}

// stop kills the server's process group and waits (bounded) for it to
// exit. It does nothing if the server is not running.
func (s *s3Server) stop() error {
	if s.cmd == nil {
		return nil
	}
	// SIGKILL: the store vanishes the way a crashed server or a cut
	// network makes it, with no goodbye to open connections.
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("versitygw %d did not exit within 30 s of SIGKILL", s.cmd.Process.Pid)
	}
	s.cmd, s.done = nil, nil
	return nil
}

// output returns the server's log so far.
func (s *s3Server) output() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// createBucket creates bucket on the server, as the cloud tests do.
func (s *s3Server) createBucket(t *testing.T, bucket string) {
	t.Helper()
	cfg, err := awsconfig.LoadDefaultConfig(t.Context(), awsconfig.WithRegion(offlineRegion),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(offlineAccessKey, offlineSecretKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.UsePathStyle = true
		o.BaseEndpoint = aws.String(s.endpoint())
	})
	if _, err := client.CreateBucket(t.Context(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v\nserver log:\n%s", bucket, err, s.output())
	}
}

// store returns the syncfs store in bucket/prefix on the server.
func (s *s3Server) store(bucket, prefix string) store {
	return store{
		url:   "s3://" + bucket + "/" + prefix,
		flags: []string{"--endpoint", s.endpoint(), "--path-style"},
		env: []string{"AWS_ACCESS_KEY_ID=" + offlineAccessKey, "AWS_SECRET_ACCESS_KEY=" + offlineSecretKey,
			"AWS_REGION=" + offlineRegion, "AWS_EC2_METADATA_DISABLED=true"},
	}
}

// queueCounts returns the "changes waiting" and "sealed batches unsent" of
// a status output, or ok false if it has no queue line.
func queueCounts(status string) (waiting, unsent string, ok bool) {
	q := queueRe.FindStringSubmatch(status)
	if q == nil {
		return "", "", false
	}
	return q[1], q[2], true
}

var storeLineRe = regexp.MustCompile(`(?m)^store:\s+.*\((reachable|UNREACHABLE)\)$`)

// storeReach returns "reachable" or "UNREACHABLE" from a status output.
func storeReach(status string) string {
	if m := storeLineRe.FindStringSubmatch(status); m != nil {
		return m[1]
	}
	return ""
}

func TestOfflineS3(t *testing.T) {
	t.Parallel()
	srv := startS3Server(t)
	bucket := bucketName(t)
	srv.createBucket(t, bucket)
	st := srv.store(bucket, "offline")
	st.init(t)

	const fetchTimeout = 3 * time.Second
	m := mountStore(t, st, "", "--fetch-timeout", fetchTimeout.String())

	// Written and synced while the store is up.
	before := map[string][]byte{
		"small.txt":      []byte("small enough to be inline in its journal entry\n"),
		"big.bin":        content(31, 1500<<10), // chunked: far over the inline limit
		"evicted.bin":    content(32, 700<<10),  // made Absent before the store goes
		"dir/keep.txt":   []byte("kept in a directory\n"),
		"torename.txt":   []byte("renamed while offline\n"),
		"todelete.txt":   []byte("deleted while offline\n"),
		"dir/append.txt": []byte("appended to while offline:"),
	}
	writeFiles(t, m, before)
	mustSyncfs(t, nil, "sync", "--wait", "60s", m.dir)
	mustSyncfs(t, nil, "evict", m.path("evicted.bin"))
	if got := getState(t, m.path("evicted.bin")); got != "absent" {
		t.Fatalf("evicted.bin: state %q after evict, want absent", got)
	}
	if got := getState(t, m.path("big.bin")); got != "resident" {
		t.Fatalf("big.bin: state %q after sync, want resident", got)
	}

	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped the S3 server on port %d", srv.port)

	// What the tree holds once the offline changes are made; nil: gone.
	after := map[string][]byte{
		"small.txt":          before["small.txt"],
		"big.bin":            before["big.bin"],
		"evicted.bin":        before["evicted.bin"],
		"dir/keep.txt":       before["dir/keep.txt"],
		"renamed.txt":        before["torename.txt"],
		"torename.txt":       nil,
		"todelete.txt":       nil,
		"dir/append.txt":     append(bytes.Clone(before["dir/append.txt"]), " yes\n"...),
		"offline/new.txt":    []byte("written while the store was down\n"),
		"offline/big2.bin":   content(33, 900<<10),
		"offline/sub/deeper": []byte("in a directory made offline\n"),
	}

	t.Run("resident_reads", func(t *testing.T) {
		checkFiles(t, m, map[string][]byte{
			"small.txt": before["small.txt"], "big.bin": before["big.bin"], "dir/keep.txt": before["dir/keep.txt"],
		})
	})

	t.Run("local_changes", func(t *testing.T) {
		bounded(t, time.Minute, "offline changes", func() {
			if err := os.MkdirAll(m.path("offline/sub"), 0o755); err != nil {
				t.Fatalf("mkdir: %v", err)
			}
			for _, rel := range []string{"offline/new.txt", "offline/big2.bin", "offline/sub/deeper"} {
				if err := os.WriteFile(m.path(rel), after[rel], 0o644); err != nil {
					t.Fatalf("write %s: %v", rel, err)
				}
			}
			f, err := os.OpenFile(m.path("dir/append.txt"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatalf("open for append: %v", err)
			}
			if _, err := f.WriteString(" yes\n"); err != nil {
				t.Errorf("append: %v", err)
			}
			if err := f.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			if err := os.Rename(m.path("torename.txt"), m.path("renamed.txt")); err != nil {
				t.Errorf("rename: %v", err)
			}
			if err := os.Remove(m.path("todelete.txt")); err != nil {
				t.Errorf("remove: %v", err)
			}
		})
		local := maps.Clone(after)
		delete(local, "evicted.bin") // Absent: the next subtest reads it
		checkTree(t, m, local)
	})

	t.Run("staged", func(t *testing.T) {
		for _, rel := range []string{"offline/new.txt", "offline/big2.bin", "offline/sub/deeper", "dir/append.txt"} {
			if got := getState(t, m.path(rel)); got != "staged" {
				t.Errorf("%s: state %q while offline, want staged", rel, got)
			}
		}
		if got := getState(t, m.path("renamed.txt")); got != "resident" {
			t.Errorf("renamed.txt: state %q after an offline rename, want resident", got)
		}
	})

	t.Run("absent_read_fails", func(t *testing.T) {
		var err error
		start := time.Now()
		bounded(t, 2*time.Minute, "reading Absent content offline", func() {
			_, err = os.ReadFile(m.path("evicted.bin"))
		})
		took := time.Since(start)
		t.Logf("reading Absent content offline failed after %v (--fetch-timeout %v): %v", took.Round(time.Millisecond), fetchTimeout, err)
		if !errors.Is(err, syscall.EIO) {
			t.Errorf("read of Absent content offline: %v, want EIO", err)
		}
		if took > 30*time.Second {
			t.Errorf("read of Absent content took %v to fail, with --fetch-timeout %v", took, fetchTimeout)
		}
		var line string
		if !poll(10*time.Second, func() bool {
			for l := range strings.SplitSeq(readLog(m.cache), "\n") {
				if strings.Contains(l, "content not available") {
					line = l
					return true
				}
			}
			return false
		}) {
			t.Errorf("no log line about the failed read:\n%s", readLog(m.cache))
		}
		t.Logf("log: %s", line)
	})

	t.Run("status_offline", func(t *testing.T) {
		// The store is seen to be down at the first failed upload or
		// pull round, each after its calls' own retries.
		var last string
		if !poll(90*time.Second, func() bool {
			last = m.status(t)
			waiting, _, ok := queueCounts(last)
			return storeReach(last) == "UNREACHABLE" && ok && waiting != "0"
		}) {
			t.Fatalf("status does not show the store unreachable with a queue:\n%s\nlog:\n%s", last, readLog(m.cache))
		}
		t.Logf("status while offline:\n%s", last)
	})

	if t.Failed() {
		t.FailNow()
	}
	// Started again exactly where it was: same port, same data.
	if err := srv.start(30 * time.Second); err != nil {
		t.Fatalf("restart: %v\nserver log:\n%s", err, srv.output())
	}
	t.Logf("restarted the S3 server on port %d", srv.port)

	t.Run("drains_unasked", func(t *testing.T) {
		const within = 90 * time.Second
		start := time.Now()
		var last string
		if !poll(within, func() bool {
			last = m.status(t)
			waiting, unsent, ok := queueCounts(last)
			if ok && waiting == "0" && unsent == "0" {
				return true
			}
			time.Sleep(450 * time.Millisecond) // each status is a process: do not spin
			return false
		}) {
			t.Fatalf("the queue did not drain within %v of the store's return:\n%s\nlog:\n%s", within, last, readLog(m.cache))
		}
		t.Logf("the queue drained %v after the store came back", time.Since(start).Round(100*time.Millisecond))
		if r := storeReach(m.status(t)); r != "reachable" {
			t.Errorf("store %s after the queue drained", r)
		}
		for _, rel := range []string{"offline/new.txt", "offline/big2.bin", "offline/sub/deeper", "dir/append.txt"} {
			if got := getState(t, m.path(rel)); got != "resident" {
				t.Errorf("%s: state %q after the drain, want resident", rel, got)
			}
		}
	})

	t.Run("fresh_mount", func(t *testing.T) {
		fresh := mountStore(t, st, "", "--fetch-timeout", "60s")
		checkTree(t, fresh, after)
		fresh.unmount(t)
	})

	t.Run("evicted_reads_back", func(t *testing.T) {
		checkFiles(t, m, map[string][]byte{"evicted.bin": before["evicted.bin"]})
	})
	m.unmount(t)
}

// checkTree checks every file of want through m: nil content means the
// name must not exist.
func checkTree(t *testing.T, m *mount, want map[string][]byte) {
	t.Helper()
	bounded(t, 2*time.Minute, "checking the tree", func() {
		for rel, b := range want {
			got, err := os.ReadFile(m.path(rel))
			switch {
			case b == nil && !errors.Is(err, os.ErrNotExist):
				t.Errorf("%s: still there (%v)", rel, err)
			case b != nil && (err != nil || !bytes.Equal(got, b)):
				t.Errorf("%s: %d bytes (want %d), %v", rel, len(got), len(b), err)
			}
		}
	})
}
