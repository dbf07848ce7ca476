package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/syncfs/syncfs/fs"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/resolver"
)

// The control API: HTTP over the unix socket in the cache directory.
// Commands find the socket through the mount's ControlXattr.

// statusReply is GET /v1/status.
type statusReply struct {
	Mountpoint string
	Store      string
	CacheDir   string
	CacheBytes int64
	Engine     resolver.Status
	Index      index.Stats
	Residency  resolver.ResidencyStatus
}

// progressLine is one line of a streamed flush or sync.
type progressLine struct {
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	Done  bool   `json:"done,omitempty"`
	Error string `json:"error,omitempty"`
}

func (d *daemon) serveControl() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", d.handleStatus)
	mux.HandleFunc("POST /v1/flush", d.handleFlush)
	mux.HandleFunc("POST /v1/sync", d.handleFlush)
	mux.HandleFunc("POST /v1/unmount", d.handleUnmount)
	mux.HandleFunc("POST /v1/pin", d.handlePin)
	mux.HandleFunc("POST /v1/unpin", d.handleUnpin)
	mux.HandleFunc("POST /v1/evict", d.handleEvict)
	mux.HandleFunc("POST /v1/fsck", d.handleFsck)
	mux.HandleFunc("POST /v1/op", d.handleStoreOp)
	mux.HandleFunc("POST /v1/versions", d.handleVersions)
	mux.HandleFunc("POST /v1/restore", d.handleRestore)
	mux.HandleFunc("POST /v1/version-content", d.handleVersionContent)
	mux.HandleFunc("POST /v1/snapshot/{op}", d.handleSnapshot)
	mux.HandleFunc("POST /v1/conflicts/{op}", d.handleConflicts)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv.Serve(d.ln)
}

func (d *daemon) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := d.idx.Stats()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	used, _ := d.cache.Used()
	json.NewEncoder(w).Encode(statusReply{Mountpoint: d.mnt, Store: d.loc.String(), CacheDir: d.cacheDir, CacheBytes: used, Engine: d.eng.Status(), Index: st, Residency: d.eng.Residency()})
}

// handleFlush uploads (and for /v1/sync first pulls) with a bounded wait,
// streaming progress as JSON lines.
func (d *daemon) handleFlush(w http.ResponseWriter, r *http.Request) {
	wait, err := time.ParseDuration(r.URL.Query().Get("wait"))
	if err != nil || wait <= 0 {
		wait = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	send := func(l progressLine) {
		enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	if strings.HasSuffix(r.URL.Path, "/sync") {
		if err := d.eng.Pull(ctx); err != nil {
			send(progressLine{Done: true, Error: err.Error()})
			return
		}
	}
	last := time.Time{}
	err = d.eng.Flush(ctx, func(p resolver.Progress) {
		if time.Since(last) > 500*time.Millisecond {
			send(progressLine{Files: p.Files, Bytes: p.Bytes})
			last = time.Now()
		}
	})
	p, _ := d.eng.Pending()
	l := progressLine{Files: p.Files, Bytes: p.Bytes, Done: true}
	if err != nil {
		l.Error = err.Error()
	}
	send(l)
}

func (d *daemon) handleUnmount(w http.ResponseWriter, r *http.Request) {
	req := unmountRequest{reply: make(chan error, 1), answered: make(chan struct{})}
	defer close(req.answered)
	select {
	case d.unmounts <- req:
	case <-r.Context().Done():
		return
	}
	if err := <-req.reply; err != nil {
		http.Error(w, fmt.Sprintf("unmount %s: %v", d.mnt, err), http.StatusConflict)
		return
	}
	w.Write([]byte("ok\n"))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// controlClient talks to the daemon serving a path.
type controlClient struct {
	socket string
	http   *http.Client
}

// dial finds the daemon serving path (a mount point or anything in it).
func dial(path string) (*controlClient, error) {
	buf := make([]byte, 4096)
	n, err := syscall.Getxattr(path, fs.ControlXattr, buf)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, fmt.Errorf("%s: %w", path, errNotMounted)
	}
	sock := string(buf[:n])
	return &controlClient{socket: sock, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialUnix(ctx, sock)
		},
	}}}, nil
}

func (c *controlClient) do(ctx context.Context, method, path string) (*http.Response, error) {
	return c.doBody(ctx, method, path, nil)
}

// doBody is do with a request body.
func (c *controlClient) doBody(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://syncfs"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("talk to the daemon at %s: %w", c.socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		return nil, errors.New(b.String())
	}
	return resp, nil
}

func (c *controlClient) status(ctx context.Context) (statusReply, error) {
	var st statusReply
	resp, err := c.do(ctx, http.MethodGet, "/v1/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// flush runs /v1/flush or /v1/sync, calling progress for each line.
func (c *controlClient) flush(ctx context.Context, verb string, wait time.Duration, progress func(progressLine)) error {
	resp, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/%s?wait=%s", verb, wait))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var l progressLine
		if err := dec.Decode(&l); err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		progress(l)
		if l.Done {
			if l.Error != "" {
				return errors.New(l.Error)
			}
			return nil
		}
	}
}

// isMounted reports whether path is a mount point, from /proc/self/mounts.
func isMounted(path string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.ReplaceAll(f[1], `\040`, " ") == path {
			return true
		}
	}
	return false
}
