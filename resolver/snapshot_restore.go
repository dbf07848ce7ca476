package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/index"
)

// Errors of RestoreSnapshot.
var (
	// ErrTargetNotEmpty reports a restore target that exists and is not an
	// empty directory: a restore never overwrites or merges.
	ErrTargetNotEmpty = errors.New("restore target is not an empty directory")
	// ErrRestoreIncomplete reports a restore that wrote everything it
	// could, but not every file's content (see RestoreReport.Errors).
	ErrRestoreIncomplete = errors.New("restore incomplete")
)

// RestoreOptions configure RestoreSnapshot.
type RestoreOptions struct {
	// Parallel is how many chunks of a file are fetched at once (default 4).
	Parallel int
	// Progress, if set, is called with the content bytes written so far
	// and the snapshot's total; calls never overlap.
	Progress func(done, total int64)
}

// RestoreReport is what RestoreSnapshot did.
type RestoreReport struct {
	Dirs, Files, Links, Symlinks, Specials int
	Bytes                                  int64
	// Warnings are attributes that could not be set (owners when not root,
	// xattrs the target file system refuses, device nodes when not root).
	Warnings []string `json:",omitempty"`
	// Errors are files whose content could not be restored (missing or
	// damaged chunks): each is left at its full size, zeros where content
	// is missing.
	Errors []string `json:",omitempty"`
}

// RestoreSnapshot writes snap's tree into dir, which must be absent (its
// parent must exist) or an empty directory; the snapshot's root directory
// record applies to dir itself. It restores regular files (from chunks or
// inline), directories, symlinks, hard links (as links), fifos, sockets and
// device nodes (as root), permission bits with setuid, setgid and sticky,
// owners (as root), xattrs, and modification times (access times are set
// to the same: a record has none), each directory's last, after its
// children.
func RestoreSnapshot(ctx context.Context, repo *Repo, snap Snapshot, dir string, o RestoreOptions) (*RestoreReport, error) {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if err := prepareTarget(dir); err != nil {
		return nil, err
	}
	r := &restorer{repo: repo, o: o, total: snap.Bytes, root: os.Geteuid() == 0, links: map[string]string{}, rep: &RestoreReport{}}
	if err := r.dir(ctx, snap.Tree, dir, "/"); err != nil {
		return r.rep, fmt.Errorf("restore %s: %w", snap.ID, err)
	}
	r.attrs(dir, "/", &snap.Root)
	if len(r.rep.Errors) > 0 {
		return r.rep, fmt.Errorf("restore %s: %d files: %w", snap.ID, len(r.rep.Errors), ErrRestoreIncomplete)
	}
	return r.rep, nil
}

// prepareTarget makes dir, or checks that it is an empty directory.
func prepareTarget(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil {
			return fmt.Errorf("create restore target: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore target: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrTargetNotEmpty, dir)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("restore target: %w", err)
	}
	defer f.Close()
	if names, err := f.Readdirnames(1); len(names) > 0 {
		return fmt.Errorf("%w: %s", ErrTargetNotEmpty, dir)
	} else if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("restore target: %w", err)
	}
	return nil
}

type restorer struct {
	repo  *Repo
	o     RestoreOptions
	codec codec
	root  bool              // running as root: owners and device nodes too
	links map[string]string // file ID -> first path restored, for hard links
	rep   *RestoreReport

	// mu protects done and calls of o.Progress.
	mu    sync.Mutex
	done  int64
	total int64
}

func (r *restorer) warn(format string, args ...any) {
	r.rep.Warnings = append(r.rep.Warnings, fmt.Sprintf(format, args...))
}

// dir restores the entries of tree id into the existing directory path
// (shown to the user as rel).
func (r *restorer) dir(ctx context.Context, id, path, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := readTree(ctx, r.repo, &r.codec, id)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	for i := range t.Entries {
		e := &t.Entries[i]
		p := filepath.Join(path, string(e.Name))
		erel := joinPath(rel, e.Name)
		if err := r.entry(ctx, e, p, erel); err != nil {
			return err
		}
	}
	return nil
}

// entry restores one entry; only failures that stop the restore (the
// target directory cannot be written, a tree cannot be read) are returned.
func (r *restorer) entry(ctx context.Context, e *TreeEntry, p, rel string) error {
	f := &e.File
	typ := f.Mode & syscall.S_IFMT
	if first, ok := r.links[f.ID]; ok && typ != syscall.S_IFDIR {
		// Another name of a file restored already: one inode again.
		if err := os.Link(first, p); err != nil {
			return fmt.Errorf("restore hard link %s: %w", rel, err)
		}
		r.rep.Links++
		return nil
	}
	switch typ {
	case syscall.S_IFDIR:
		if err := os.Mkdir(p, 0o700); err != nil {
			return fmt.Errorf("restore %s: %w", rel, err)
		}
		if err := r.dir(ctx, e.Tree, p, rel); err != nil {
			return err
		}
		r.rep.Dirs++
	case syscall.S_IFREG:
		if err := r.file(ctx, f, p, rel); err != nil {
			return err
		}
		r.rep.Files++
	case syscall.S_IFLNK:
		if err := os.Symlink(string(f.Target), p); err != nil {
			return fmt.Errorf("restore symlink %s: %w", rel, err)
		}
		r.rep.Symlinks++
	case syscall.S_IFIFO:
		if err := unix.Mkfifo(p, 0o600); err != nil {
			return fmt.Errorf("restore fifo %s: %w", rel, err)
		}
		r.rep.Specials++
	case syscall.S_IFSOCK, syscall.S_IFCHR, syscall.S_IFBLK:
		if err := unix.Mknod(p, typ|0o600, int(f.Rdev)); err != nil {
			if errors.Is(err, unix.EPERM) {
				r.warn("%s: device node not restored (needs root): %v", rel, err)
				return nil
			}
			return fmt.Errorf("restore %s: %w", rel, err)
		}
		r.rep.Specials++
	default:
		r.warn("%s: unknown file type %#o, skipped", rel, typ)
		return nil
	}
	if typ != syscall.S_IFDIR {
		r.links[f.ID] = p
	}
	r.attrs(p, rel, f)
	return nil
}

// file creates a regular file with its content.
func (r *restorer) file(ctx context.Context, f *index.FileRecord, p, rel string) error {
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore %s: %w", rel, err)
	}
	defer out.Close()
	c := f.Content
	if c == nil {
		c = &index.Content{}
	}
	if len(c.Chunks) == 0 {
		if int64(len(c.Inline)) != c.Size {
			r.rep.Errors = append(r.rep.Errors, fmt.Sprintf("%s: inline content has %d bytes, want %d", rel, len(c.Inline), c.Size))
		}
		if _, err := out.Write(c.Inline); err != nil {
			return fmt.Errorf("restore %s: %w", rel, err)
		}
		r.progress(int64(len(c.Inline)))
	} else if err := r.chunks(ctx, out, c.Chunks, rel); err != nil {
		return err
	}
	if err := out.Truncate(c.Size); err != nil {
		return fmt.Errorf("restore %s: %w", rel, err)
	}
	r.rep.Bytes += c.Size
	if err := out.Close(); err != nil {
		return fmt.Errorf("restore %s: %w", rel, err)
	}
	return nil
}

// chunks fetches a file's chunks, a few at once, and writes each at its
// offset. A chunk that is missing or damaged is reported and skipped.
func (r *restorer) chunks(ctx context.Context, out *os.File, refs []index.ChunkRef, rel string) error {
	sem := make(chan struct{}, r.o.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex // protects fatal and bad
	var fatal error
	var bad []string
	var off int64
	for _, ref := range refs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func(ref index.ChunkRef, off int64) {
			defer func() { <-sem; wg.Done() }()
			plain, err := readChunk(ctx, r.repo, &r.codec, ref)
			if err == nil {
				_, err = out.WriteAt(plain, off)
				if err != nil {
					err = fmt.Errorf("restore %s: %w", rel, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				r.progress(int64(len(plain)))
			case errors.Is(err, ErrDamaged), errors.Is(err, blobstore.ErrNotExist):
				bad = append(bad, fmt.Sprintf("%s: %v", rel, err))
			case fatal == nil:
				fatal = err
			}
		}(ref, off)
		off += ref.Len
	}
	wg.Wait()
	r.rep.Errors = append(r.rep.Errors, bad...)
	return fatal
}

func (r *restorer) progress(n int64) {
	if r.o.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done += n
	r.o.Progress(r.done, r.total)
}

// attrs sets owner, xattrs, mode and times, in that order: chown clears
// setuid bits, and the times must come after every other change.
func (r *restorer) attrs(p, rel string, f *index.FileRecord) {
	link := f.Mode&syscall.S_IFMT == syscall.S_IFLNK
	if r.root {
		if err := os.Lchown(p, int(f.UID), int(f.GID)); err != nil {
			r.warn("%s: owner: %v", rel, err)
		}
	}
	for name, v := range f.Xattrs {
		if err := unix.Lsetxattr(p, name, v, 0); err != nil {
			r.warn("%s: xattr %s: %v", rel, name, err)
		}
	}
	if !link {
		if err := unix.Chmod(p, f.Mode&0o7777); err != nil {
			r.warn("%s: mode: %v", rel, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(f.Mtime), unix.NsecToTimespec(f.Mtime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		r.warn("%s: times: %v", rel, err)
	}
}

// readChunk fetches, authenticates, decompresses and checks one chunk,
// like Engine.getChunk but with only a store. A missing chunk wraps
// blobstore.ErrNotExist, a bad one ErrDamaged.
func readChunk(ctx context.Context, repo *Repo, c *codec, ref index.ChunkRef) ([]byte, error) {
	name := chunkName(ref.ID)
	sealed, err := blobstore.GetAll(ctx, repo.Store, name, maxPlain+1024)
	if err != nil {
		return nil, fmt.Errorf("fetch chunk %s: %w", name, err)
	}
	body, err := repo.Keys.Open(crypto.KindChunk, ref.ID, sealed)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w: %w", name, ErrDamaged, err)
	}
	plain, err := c.decompress(body)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", name, err)
	}
	if int64(len(plain)) != ref.Len || repo.Keys.ChunkID(plain) != ref.ID {
		return nil, fmt.Errorf("chunk %s: content does not match its ID: %w", name, ErrDamaged)
	}
	return plain, nil
}
