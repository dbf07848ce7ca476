package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/resolver"
)

// The control API of versions and restore: POST /v1/versions lists,
// POST /v1/restore restores inside the mount, POST /v1/version-content
// streams a version's bytes (for a restore to a path outside the mount).
// Each names its file as a directory inode (st_ino on the mount) and a name,
// so that a deleted file, which has no inode, can be named too.

// versionRequest is the body of every versions call.
type versionRequest struct {
	Dir     uint64 `json:"dir"`
	Name    string `json:"name,omitempty"`
	Path    string `json:"path"` // as the user gave it, for messages
	Deleted bool   `json:"deleted,omitempty"`
	// Version and At select a version (see resolver.Selector).
	Version int       `json:"version,omitempty"`
	At      time.Time `json:"at,omitzero"`
	// ToDir and ToName, when set, are where a restore goes instead of
	// the file itself: a new file, or with Force an existing one.
	ToDir  uint64 `json:"to_dir,omitempty"`
	ToName string `json:"to_name,omitempty"`
	ToPath string `json:"to_path,omitempty"`
	Force  bool   `json:"force,omitempty"`
	// UID and GID own a file the restore creates.
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

func (r versionRequest) selector() resolver.Selector {
	return resolver.Selector{Version: r.Version, At: r.At}
}

// versionsReply is the answer of POST /v1/versions: a path's history, or
// with Deleted a directory's deleted files.
type versionsReply struct {
	History *resolver.PathHistory   `json:"history,omitempty"`
	Deleted []resolver.DeletedEntry `json:"deleted,omitempty"`
}

// restoreReply is the answer of POST /v1/restore.
type restoreReply struct {
	Version resolver.PathVersion `json:"version"`
	Created bool                 `json:"created"` // a new file, not a new version of one
	Size    int64                `json:"size"`
}

// controlFailure is a failed call's body: the message and exit code the
// command reports.
type controlFailure struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}

// versionsCore lists and restores versions through an engine and its
// index: a mount's (in the daemon), or a store view's (--store).
type versionsCore struct {
	eng *resolver.Engine
	idx *index.DB
}

func (c versionsCore) list(ctx context.Context, req versionRequest) (versionsReply, error) {
	if req.Deleted {
		ds, err := c.eng.Deleted(req.Dir)
		return versionsReply{Deleted: ds}, err
	}
	h, err := c.eng.History(ctx, req.Dir, req.Name)
	if err != nil {
		return versionsReply{}, describeVersionsErr(err, req.Path)
	}
	return versionsReply{History: &h}, nil
}

// pick finds the version req selects.
func (c versionsCore) pick(ctx context.Context, req versionRequest) (resolver.PathVersion, error) {
	h, err := c.eng.History(ctx, req.Dir, req.Name)
	if err != nil {
		return resolver.PathVersion{}, describeVersionsErr(err, req.Path)
	}
	v, err := h.Pick(req.selector())
	if err != nil {
		return v, describeVersionsErr(err, req.Path)
	}
	return v, nil
}

// restore writes the selected version back: over the file at the name
// (a new version), as a new file where the name holds nothing, or to
// ToDir/ToName.
func (c versionsCore) restore(ctx context.Context, req versionRequest) (restoreReply, error) {
	v, err := c.pick(ctx, req)
	if err != nil {
		return restoreReply{}, err
	}
	dir, name, shown := req.Dir, req.Name, req.Path
	if req.ToName != "" {
		dir, name, shown = req.ToDir, req.ToName, req.ToPath
	}
	node := index.NewNode{Mode: v.Version.Mode & 0o7777, UID: req.UID, GID: req.GID}
	var a index.Attr
	cur, err := c.idx.Lookup(dir, name)
	switch {
	case errors.Is(err, index.ErrNotExist):
		a, err = c.eng.RestoreAsNew(ctx, dir, name, v.Version, node)
	case err != nil:
	case req.ToName != "" && !req.Force:
		err = fmt.Errorf("%s %w", shown, errTargetExists)
	case !cur.IsRegular():
		err = fmt.Errorf("%s: %w", shown, resolver.ErrNotRegular)
	default:
		a, err = c.eng.RestoreOver(ctx, cur.Ino, v.Version)
	}
	if err != nil {
		if errors.Is(err, resolver.ErrChunkGone) {
			return restoreReply{}, exitCodeError{exitError, fmt.Sprintf("version %d of %s was removed by prune", v.N, req.Path)}
		}
		return restoreReply{}, describeVersionsErr(err, shown)
	}
	return restoreReply{Version: v, Created: cur.Ino == 0, Size: a.Size}, nil
}

// errTargetExists refuses a restore onto an existing file without --force.
var errTargetExists = errors.New("exists; give --force to replace it")

// describeVersionsErr turns the errors of listing and restoring into the
// message and exit code the user sees; others keep describe's mapping.
func describeVersionsErr(err error, path string) error {
	var ec exitCodeError
	switch {
	case errors.As(err, &ec):
		return err
	case errors.Is(err, resolver.ErrNoSuchVersion), errors.Is(err, resolver.ErrDeletedVersion):
		return exitCodeError{exitUsage, err.Error()}
	case errors.Is(err, errTargetExists), errors.Is(err, os.ErrExist):
		return exitCodeError{exitUsage, err.Error()}
	case errors.Is(err, resolver.ErrNotRegular), errors.Is(err, index.ErrIsDir):
		return exitCodeError{exitUsage, path + " is not a regular file (give --deleted DIR to list a directory's deleted files)"}
	case errors.Is(err, index.ErrStagedContent):
		return exitCodeError{exitError, path + " has changes not yet uploaded (open for writing, or the store unreachable): close it or wait, then restore again"}
	case errors.Is(err, resolver.ErrChunkGone):
		return exitCodeError{exitError, path + ": that version was removed by prune"}
	case errors.Is(err, index.ErrNotExist):
		return exitCodeError{exitError, path + ": no such file, and no deleted file of that name"}
	}
	return err
}

// handleVersions answers POST /v1/versions.
func (d *daemon) handleVersions(w http.ResponseWriter, r *http.Request) {
	var req versionRequest
	if !decodeVersionRequest(w, r, &req) {
		return
	}
	rep, err := versionsCore{d.eng, d.idx}.list(r.Context(), req)
	if err != nil {
		writeFailure(w, err)
		return
	}
	json.NewEncoder(w).Encode(rep)
}

// handleRestore answers POST /v1/restore.
func (d *daemon) handleRestore(w http.ResponseWriter, r *http.Request) {
	var req versionRequest
	if !decodeVersionRequest(w, r, &req) {
		return
	}
	// Flushing a Staged file first must not wait for ever.
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	rep, err := versionsCore{d.eng, d.idx}.restore(ctx, req)
	if err != nil {
		writeFailure(w, err)
		return
	}
	json.NewEncoder(w).Encode(rep)
}

// handleVersionContent answers POST /v1/version-content with the selected
// version's bytes; its number, mode and mtime are in headers. A failure
// after the first byte shows as a body shorter than Content-Length.
func (d *daemon) handleVersionContent(w http.ResponseWriter, r *http.Request) {
	var req versionRequest
	if !decodeVersionRequest(w, r, &req) {
		return
	}
	core := versionsCore{d.eng, d.idx}
	v, err := core.pick(r.Context(), req)
	if err != nil {
		writeFailure(w, err)
		return
	}
	// The first chunk is read before answering, so that a version removed
	// by prune is a clear error rather than a short body.
	var first bytes.Buffer
	lw := &limitedFirst{buf: &first, w: w}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(v.Size, 10))
	h.Set("X-Syncfs-Version", strconv.Itoa(v.N))
	h.Set("X-Syncfs-Mode", strconv.FormatUint(uint64(v.Version.Mode), 8))
	h.Set("X-Syncfs-Mtime", strconv.FormatInt(v.Version.Mtime, 10))
	if _, err := d.eng.WriteVersion(r.Context(), v.Version, lw); err != nil {
		if !lw.started {
			for _, k := range []string{"Content-Length", "X-Syncfs-Version", "X-Syncfs-Mode", "X-Syncfs-Mtime"} {
				h.Del(k)
			}
			if errors.Is(err, resolver.ErrChunkGone) {
				err = exitCodeError{exitError, fmt.Sprintf("version %d of %s was removed by prune", v.N, req.Path)}
			}
			writeFailure(w, err)
			return
		}
		d.log.Warn("send version content", "path", req.Path, "version", v.N, "err", err)
		return
	}
	lw.flush()
}

// limitedFirst holds the first write back until a second one (or flush),
// so that the answer's status is sent only once the first chunk is good.
type limitedFirst struct {
	buf     *bytes.Buffer
	w       io.Writer
	started bool
}

func (l *limitedFirst) Write(p []byte) (int, error) {
	if !l.started && l.buf.Len() == 0 {
		l.buf.Write(p)
		return len(p), nil
	}
	if err := l.flush(); err != nil {
		return 0, err
	}
	return l.w.Write(p)
}

func (l *limitedFirst) flush() error {
	if l.started {
		return nil
	}
	l.started = true
	_, err := l.w.Write(l.buf.Bytes())
	return err
}

func decodeVersionRequest(w http.ResponseWriter, r *http.Request, req *versionRequest) bool {
	if err := json.NewDecoder(r.Body).Decode(req); err != nil {
		writeFailure(w, usageError{fmt.Errorf("bad request: %w", err)})
		return false
	}
	return true
}

// writeFailure answers with the exit code and message describe gives err.
func writeFailure(w http.ResponseWriter, err error) {
	code, msg := describe(err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnprocessableEntity)
	json.NewEncoder(w).Encode(controlFailure{Error: msg, Code: code})
}

// call posts req to the daemon and returns the answer, or the failure it
// reports as an exitCodeError.
func (c *controlClient) call(ctx context.Context, path string, req any) (*http.Response, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://syncfs"+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("talk to the daemon at %s: %w", c.socket, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var f controlFailure
	if json.Unmarshal(body, &f) == nil && f.Error != "" {
		return nil, exitCodeError{f.Code, f.Error}
	}
	// An older daemon without this call answers 404 with a plain text.
	return nil, fmt.Errorf("daemon: %s: %s", resp.Status, bytes.TrimSpace(body))
}

// callJSON posts req and decodes the answer into out.
func (c *controlClient) callJSON(ctx context.Context, path string, req, out any) error {
	resp, err := c.call(ctx, path, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read reply: %w", err)
	}
	return nil
}

// saveVersionContent fetches the selected version from the daemon into
// the local file dst.
func (c *controlClient) saveVersionContent(ctx context.Context, req versionRequest, dst string, force bool) (n int, size int64, err error) {
	resp, err := c.call(ctx, "/v1/version-content", req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, _ = strconv.Atoi(resp.Header.Get("X-Syncfs-Version"))
	mode, _ := strconv.ParseUint(resp.Header.Get("X-Syncfs-Mode"), 8, 32)
	mtime, _ := strconv.ParseInt(resp.Header.Get("X-Syncfs-Mtime"), 10, 64)
	size = resp.ContentLength
	err = resolver.SaveFile(dst, os.FileMode(mode)&os.ModePerm, mtimeOf(mtime), force, func(w io.Writer) (int64, error) {
		got, err := io.Copy(w, resp.Body)
		if err == nil && size >= 0 && got != size {
			err = fmt.Errorf("got %d of %d bytes: %w", got, size, io.ErrUnexpectedEOF)
		}
		return got, err
	})
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w (see the daemon's log)", err)
	}
	return n, size, err
}

// mtimeOf turns nanoseconds since the epoch into a time; 0 is none.
func mtimeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// callerOwner returns who owns a file the restore creates: the user
// running the command.
func callerOwner() (uint32, uint32) {
	return uint32(syscall.Getuid()), uint32(syscall.Getgid())
}
