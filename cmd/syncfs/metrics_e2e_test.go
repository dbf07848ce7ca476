package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freeLoopbackAddr returns 127.0.0.1:PORT with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// scrape fetches url and returns its samples by series ("name{labels}").
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s: %s", resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: bad line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsEndpoint mounts with --metrics-addr, does a few operations and
// finds the FUSE and store counters moved, with pprof beside them.
func TestMetricsEndpoint(t *testing.T) {
	st := localStore(t)
	st.init(t)
	addr := freeLoopbackAddr(t)
	m := mountStore(t, st, "", "--metrics-addr", addr)
	base := "http://" + addr

	before := scrape(t, base+"/metrics")
	if err := os.WriteFile(m.path("a.txt"), []byte("hello metrics"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(m.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(m.path("a.txt")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadDir(m.path("d")); err != nil {
		t.Fatal(err)
	}
	m.waitUploaded(t, time.Minute)
	after := scrape(t, base+"/metrics")

	t.Run("fuse requests counted by op", func(t *testing.T) {
		// Not WRITE or READ: the kernel writes and reads cached files
		// itself (passthrough), and the daemon sees neither.
		// No FLUSH either: opens ask the kernel not to send one at close.
		if s := `syncfs_fuse_requests_total{op="FLUSH"}`; after[s] != before[s] {
			t.Errorf("%s: %v before, %v after; want no FLUSH", s, before[s], after[s])
		}
		for _, op := range []string{"CREATE", "OPEN", "MKDIR", "RELEASE"} {
			s := fmt.Sprintf(`syncfs_fuse_requests_total{op=%q}`, op)
			if after[s] <= before[s] {
				t.Errorf("%s: %v before, %v after", s, before[s], after[s])
			}
			h := fmt.Sprintf(`syncfs_fuse_request_duration_seconds_count{op=%q}`, op)
			if after[h] != after[s] {
				t.Errorf("%s = %v, want the request count %v", h, after[h], after[s])
			}
		}
	})
	t.Run("uploads counted", func(t *testing.T) {
		for _, s := range []string{`syncfs_store_objects_total{direction="up"}`, `syncfs_store_bytes_total{direction="up"}`, `syncfs_store_calls_total{op="put_if_absent"}`} {
			if after[s] <= before[s] {
				t.Errorf("%s: %v before, %v after", s, before[s], after[s])
			}
		}
	})
	t.Run("queue and cache gauges", func(t *testing.T) {
		for _, s := range []string{"syncfs_upload_queue_changes", "syncfs_upload_queue_bytes", "syncfs_cache_used_bytes", "syncfs_cache_budget_bytes", "syncfs_conflict_copies"} {
			if _, ok := after[s]; !ok {
				t.Errorf("%s missing", s)
			}
		}
		if after["syncfs_upload_queue_changes"] != 0 {
			t.Errorf("queue after upload: %v changes", after["syncfs_upload_queue_changes"])
		}
	})
	t.Run("pprof served beside", func(t *testing.T) {
		c := http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(base + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine profile") {
			t.Errorf("pprof: %s: %.200s", resp.Status, b)
		}
	})
	m.unmount(t)
}

// TestMetricsAddrRefused checks that only loopback addresses are accepted,
// as a usage error before anything is mounted.
func TestMetricsAddrRefused(t *testing.T) {
	st := localStore(t)
	st.init(t)
	for _, addr := range []string{"0.0.0.0:9100", ":9100", "192.0.2.1:9100", "[::]:9100", "example.com:9100", "127.0.0.1"} {
		t.Run(addr, func(t *testing.T) {
			mnt, cacheDir := newMountDirs(t)
			t.Cleanup(func() { forceUnmount(t, mnt, cacheDir) })
			args := append([]string{"mount"}, st.args()...)
			r := syncfs(t, passEnv(), append(args, "--cache-dir", cacheDir, "--metrics-addr", addr, mnt)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, "--metrics-addr") {
				t.Errorf("want a usage error (exit %d) naming --metrics-addr: %s", exitUsage, r)
			}
			if isMountPoint(mnt) {
				t.Errorf("%s mounted despite the bad address", mnt)
			}
		})
	}
}
