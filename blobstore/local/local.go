package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/syncfs/syncfs/blobstore"
)

// tempPrefix starts the name of every file a Put is still writing. List
// skips such files and no object name may use the prefix, so a temp file
// left by a crash is never mistaken for an object.
const tempPrefix = ".tmp-"

// dirPerm and the 0600 that os.CreateTemp gives files keep a store private
// to its owner, as its contents are only as safe as the directory.
const dirPerm = 0o700

// createAttempts bounds how often Put recreates a parent directory that a
// concurrent Delete pruned between Put's mkdir and its create.
const createAttempts = 10

// Options tunes a local Store. The zero value is the durable default.
type Options struct {
	// NoSync skips every fsync. Only for tests and scratch stores: after a
	// machine crash, objects a Put reported as written may be missing or
	// empty.
	NoSync bool
}

// Store is a blobstore.Store kept in a local directory (a disk, a USB
// drive or a mounted NAS share): object "a/b/c" is the file <root>/a/b/c.
// It is safe for concurrent use, also by several processes.
type Store struct {
	root string // absolute and clean
	opts Options

	// wrapTemp, when set, wraps the writer of each Put's temp file. It is
	// a seam for tests to inject write errors such as ENOSPC; nil in use.
	wrapTemp func(io.Writer) io.Writer
}

var _ blobstore.Store = (*Store)(nil)

// Open opens the store kept in dir, which must already exist (use Create
// to make it): a missing or mistyped path is reported, naming it, rather
// than silently starting an empty store somewhere unexpected.
func Open(dir string, opts Options) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open local store %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open local store: %w", classify(err))
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open local store %s: not a directory", abs)
	}
	return &Store{root: abs, opts: opts}, nil
}

// Create makes dir (and its missing parents) and opens the store in it.
// An existing directory is fine: Create never removes or changes objects.
func Create(dir string, opts Options) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("create local store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("create local store: %w", classify(err))
	}
	s, err := Open(abs, opts)
	if err != nil {
		return nil, err
	}
	if err := s.syncDir(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("create local store: %w", err)
	}
	return s, nil
}

// Root returns the absolute directory the store lives in.
func (s *Store) Root() string { return s.root }

// checkName adds the local rule to blobstore.CheckName: no component may
// look like a temp file, or List would hide it.
func checkName(name string) error {
	if err := blobstore.CheckName(name); err != nil {
		return err
	}
	for comp := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(comp, tempPrefix) {
			return fmt.Errorf("name %q uses the reserved prefix %q: %w", name, tempPrefix, blobstore.ErrBadName)
		}
	}
	return nil
}

func (s *Store) path(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(name))
}

// Put stores body under name: it writes and fsyncs a temp file in the
// target's directory, renames it over the target and fsyncs the directory,
// so a reader or a crash sees the old object or the new one, never a mix.
func (s *Store) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	if err := s.put(ctx, name, body, size, os.Rename); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// PutIfAbsent stores body under name unless the name exists. The temp
// file is hard-linked to the final name, which the kernel does atomically
// and refuses with EEXIST if the name is taken, so of two racing callers
// (even in different processes) exactly one wins.
func (s *Store) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	link := func(tmp, final string) error {
		err := os.Link(tmp, final)
		// The temp name is only a second name now, or a loser's copy. If
		// removing it fails the object is still in place, and List hides
		// the leftover, so that is no reason to report a failed put.
		_ = os.Remove(tmp)
		if errors.Is(err, fs.ErrExist) {
			return blobstore.ErrExist
		}
		return err
	}
	if err := s.put(ctx, name, body, size, link); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", name, err)
	}
	return nil
}

// put writes a synced temp file next to name and hands it to commit, which
// must give it the final name and remove the temp name.
func (s *Store) put(ctx context.Context, name string, body io.ReaderAt, size int64, commit func(tmp, final string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("negative size %d", size)
	}
	final := s.path(name)
	dir := filepath.Dir(final)
	tmp, err := s.writeTemp(ctx, dir, body, size)
	if err != nil {
		return err
	}
	// A cancellation that arrived while writing still stops the commit:
	// the caller has been told nothing changed.
	if err := ctx.Err(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := commit(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return classify(err)
	}
	return s.syncDir(dir)
}

// writeTemp copies body into a new synced temp file in dir and returns its
// path; on failure it leaves nothing behind.
func (s *Store) writeTemp(ctx context.Context, dir string, body io.ReaderAt, size int64) (string, error) {
	f, err := s.createTemp(dir)
	if err != nil {
		return "", classify(err)
	}
	var w io.Writer = f
	if s.wrapTemp != nil {
		w = s.wrapTemp(f)
	}
	bp := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(writerOnly{w}, ctxReader{ctx, io.NewSectionReader(body, 0, size)}, *bp)
	copyBufs.Put(bp)
	switch {
	case err != nil:
		err = fmt.Errorf("copy body to %s: %w", f.Name(), err)
	case n < size:
		err = fmt.Errorf("body ended after %d of %d bytes: %w", n, size, io.ErrUnexpectedEOF)
	case !s.opts.NoSync:
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", classify(err)
	}
	return f.Name(), nil
}

// createTemp creates a temp file in dir, making dir first if needed. A
// concurrent Delete may prune an emptied dir between our mkdir and our
// create, so a vanished dir is made again a bounded number of times.
func (s *Store) createTemp(dir string) (*os.File, error) {
	for attempt := 1; ; attempt++ {
		f, err := os.CreateTemp(dir, tempPrefix+"*")
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == createAttempts {
			return f, err
		}
		// makeDir can lose the same race one level up; try again then too.
		if err := s.makeDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
}

// makeDir makes dir and its missing parents below the root, syncing each
// parent that gained an entry so the new path survives a crash.
func (s *Store) makeDir(dir string) error {
	err := os.Mkdir(dir, dirPerm)
	if errors.Is(err, fs.ErrNotExist) && dir != s.root && strings.HasPrefix(dir, s.root) {
		if err := s.makeDir(filepath.Dir(dir)); err != nil {
			return err
		}
		err = os.Mkdir(dir, dirPerm)
	}
	switch {
	case err == nil:
		return s.syncDir(filepath.Dir(dir))
	case errors.Is(err, fs.ErrExist):
		return nil
	default:
		return err
	}
}

// syncDir fsyncs a directory so that entries added to it are durable.
func (s *Store) syncDir(dir string) error {
	if s.opts.NoSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return classify(err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some filesystems (CIFS, some FUSE mounts) cannot sync a directory;
	// restic ignores this too, as there is nothing better to do.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return classify(err)
}

// Get opens the object and returns a reader of [off, off+length), or to the
// end if length < 0. The reader holds the file open, so an overwrite or
// delete after Get does not change what it returns.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	rc, err := s.get(ctx, name, off, length)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return rc, nil
}

func (s *Store) get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("negative offset %d", off)
	}
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, classifyRead(err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		err = classify(err)
	case !fi.Mode().IsRegular():
		// A directory here is only a prefix of other objects' names.
		err = blobstore.ErrNotExist
	case off > fi.Size():
		err = fmt.Errorf("offset %d beyond the end (%d bytes)", off, fi.Size())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rangeReader{ctx: ctx, f: f, name: name, off: off, left: length}, nil
}

// rangeReader reads a byte range of a file with pread, failing with
// io.ErrUnexpectedEOF if the file ends before the range does.
type rangeReader struct {
	ctx  context.Context
	f    *os.File
	name string
	off  int64
	left int64 // bytes still to read; < 0 means to the end of the file
}

// Read reads the next part of the range.
func (r *rangeReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", r.name, err)
	}
	if r.left > 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.ReadAt(p, r.off)
	r.off += int64(n)
	if r.left > 0 {
		r.left -= int64(n)
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.EOF) && r.left < 0:
		return n, io.EOF
	case errors.Is(err, io.EOF):
		return n, fmt.Errorf("read %s: object ended %d bytes early: %w", r.name, r.left, io.ErrUnexpectedEOF)
	default:
		return n, fmt.Errorf("read %s: %w", r.name, classify(err))
	}
}

// Close closes the file.
func (r *rangeReader) Close() error { return r.f.Close() }

// Stat returns the object's size and modification time.
func (s *Store) Stat(ctx context.Context, name string) (blobstore.Info, error) {
	if err := ctx.Err(); err != nil {
		return blobstore.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	if err := checkName(name); err != nil {
		return blobstore.Info{}, fmt.Errorf("stat: %w", err)
	}
	fi, err := os.Stat(s.path(name))
	if err == nil && !fi.Mode().IsRegular() {
		err = blobstore.ErrNotExist
	}
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("stat %s: %w", name, classifyRead(err))
	}
	return blobstore.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List calls fn for each object whose name starts with prefix, in byte
// order. It walks only the directories that can hold such names, and skips
// temp files and anything that is neither a regular file nor a directory.
// Objects put or deleted during the walk may or may not be listed.
func (s *Store) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	// The part up to the last slash names a directory; checking it like a
	// name keeps the walk inside the root ("../" never gets there).
	start := prefix[:strings.LastIndexByte(prefix, '/')+1]
	if start != "" {
		if err := checkName(strings.TrimSuffix(start, "/")); err != nil {
			return fmt.Errorf("list: prefix %q: %w", prefix, err)
		}
	}
	if strings.IndexByte(prefix, 0) >= 0 {
		return fmt.Errorf("list: prefix %q contains NUL: %w", prefix, blobstore.ErrBadName)
	}
	return s.walk(ctx, start, prefix, fn)
}

// listEntry is one directory entry under its object-name key: a
// directory's key ends in "/", so sorting keys sorts the names below them
// in byte order ("a-b" < "a/c" although the directory "a" < "a-b").
type listEntry struct {
	key   string
	isDir bool
	entry fs.DirEntry
}

func (s *Store) walk(ctx context.Context, dir, prefix string, fn func(blobstore.Info) error) error {
	dirents, err := os.ReadDir(filepath.Join(s.root, filepath.FromSlash(dir)))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // nothing stored under this prefix, or a Delete pruned it
	}
	if err != nil {
		return fmt.Errorf("list %q: %w", prefix, classify(err))
	}
	entries := make([]listEntry, 0, len(dirents))
	for _, d := range dirents {
		if strings.HasPrefix(d.Name(), tempPrefix) {
			continue
		}
		switch {
		case d.IsDir():
			entries = append(entries, listEntry{dir + d.Name() + "/", true, d})
		case d.Type().IsRegular():
			entries = append(entries, listEntry{dir + d.Name(), false, d})
		}
	}
	slices.SortFunc(entries, func(a, b listEntry) int { return strings.Compare(a.key, b.key) })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %q: %w", prefix, err)
		}
		matches := strings.HasPrefix(e.key, prefix)
		if !matches && !(e.isDir && strings.HasPrefix(prefix, e.key)) {
			if e.key > prefix {
				break // sorted: every later key is past the prefix too
			}
			continue
		}
		if e.isDir {
			if err := s.walk(ctx, e.key, prefix, fn); err != nil {
				return err
			}
			continue
		}
		fi, err := e.entry.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("list %q: %w", prefix, classify(err))
		}
		if err := fn(blobstore.Info{Name: e.key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the object and then the directories it leaves empty, up
// to but never including the root. A missing object is not an error. The
// directory is not fsynced: a delete lost in a crash only leaves an object
// that a later pass deletes again, while every Put is already durable.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if err := checkName(name); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	p := s.path(name)
	// unlink(2) rather than os.Remove, which would also rmdir a directory
	// that merely shares the name's prefix.
	err := syscall.Unlink(p)
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return nil
	case err != nil:
		return fmt.Errorf("delete %s: %w", name, classify(&fs.PathError{Op: "unlink", Path: p, Err: err}))
	}
	// rmdir fails on a directory that is not empty, which ends the pruning;
	// a Put racing into a pruned directory makes it again (createTemp).
	for dir := filepath.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root); dir = filepath.Dir(dir) {
		if syscall.Rmdir(dir) != nil {
			break
		}
	}
	return nil
}

// copyBufs holds writeTemp's copy buffers. io.Copy into an *os.File
// copies 32 KiB per write(2); a chunk of several MiB then cost a hundred
// system calls, and those were half the uploader's CPU.
var copyBufs = sync.Pool{New: func() any {
	b := make([]byte, 1<<20)
	return &b
}}

// writerOnly hides an *os.File's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given.
type writerOnly struct{ io.Writer }

// ctxReader stops a copy once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from the wrapped reader unless the context is done.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
