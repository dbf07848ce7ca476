package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/index"
)

// Errors of version selection and restore.
var (
	// ErrNoSuchVersion reports a version number, or a time, that names no
	// version of the path.
	ErrNoSuchVersion = errors.New("no such version")
	// ErrDeletedVersion reports a selected version that is a deletion:
	// there is no content to restore.
	ErrDeletedVersion = errors.New("that version is a deletion")
	// ErrNotRegular reports a path that is not a regular file: only
	// regular files have versions to list and restore.
	ErrNotRegular = errors.New("not a regular file")
)

// PathHistory is what a name has held, version by version: the versions
// of the file there now, and of earlier files that lived under that name
// and are deleted (an editor's save that renames a new file over the old,
// or a delete and create again). Oldest first, numbered from 1.
type PathHistory struct {
	Name string `json:"name"`
	// FileID is the file at the name now; empty if there is none.
	FileID string `json:"file_id,omitempty"`
	// Unsynced says the file at the name has local changes that are not
	// a version yet (not uploaded).
	Unsynced bool          `json:"unsynced,omitempty"`
	Versions []PathVersion `json:"versions"`
}

// PathVersion is one version in a PathHistory.
type PathVersion struct {
	N      int       `json:"n"`
	Time   time.Time `json:"time"`   // when the version was made
	Device string    `json:"device"` // the device that made it
	Size   int64     `json:"size"`
	Note   string    `json:"note,omitempty"` // current, deleted, conflict (lost), earlier file, pruned
	// Pruned says the version was superseded before the retention
	// cutoff of a garbage collection: its chunks may be gone.
	Pruned  bool          `json:"pruned,omitempty"`
	Version index.Version `json:"version"`
}

// Selector names one version of a path: by number, by the time it was
// current, or (both zero) the newest live one.
type Selector struct {
	Version int
	At      time.Time
}

// DeletedEntry is a name in a directory whose file is deleted.
type DeletedEntry struct {
	Name    string    `json:"name"`
	Deleted time.Time `json:"deleted"` // when
	Device  string    `json:"device"`  // the device that deleted it
	Size    int64     `json:"size"`    // its last live version's
	FileID  string    `json:"file_id"`
}

// ResolvePath walks a slash-separated path (relative to the root; a
// leading slash is allowed) through the index: it returns the directory
// holding the last element and that element's name ("" for the root).
// Only the directories must exist.
func ResolvePath(idx *index.DB, p string) (dir index.Attr, name string, err error) {
	clean := strings.Trim(path.Clean("/"+p), "/")
	dir, err = idx.GetAttr(index.RootIno)
	if err != nil || clean == "" {
		return dir, "", err
	}
	parts := strings.Split(clean, "/")
	for _, el := range parts[:len(parts)-1] {
		if dir, err = idx.Lookup(dir.Ino, el); err != nil {
			return dir, "", fmt.Errorf("%s: %w", p, err)
		}
		if !dir.IsDir() {
			return dir, "", fmt.Errorf("%s: %s: %w", p, el, index.ErrNotDir)
		}
	}
	return dir, parts[len(parts)-1], nil
}

// History lists the versions of what name in directory dir has held (see
// PathHistory). A name that holds no regular file and never did fails with
// index.ErrNotExist; one that holds something else with ErrNotRegular.
// Versions that retention let a garbage collection remove are marked
// Pruned, as far as the store (if it answers within ctx) says.
func (e *Engine) History(ctx context.Context, dir uint64, name string) (PathHistory, error) {
	h := PathHistory{Name: name}
	d, err := e.idx.GetAttr(dir)
	if err != nil {
		return h, err
	}
	if !d.IsDir() {
		return h, fmt.Errorf("inode %d: %w", dir, index.ErrNotDir)
	}
	var vs []index.Version
	cur, err := e.idx.Lookup(dir, name)
	switch {
	case errors.Is(err, index.ErrNotExist):
	case err != nil:
		return h, err
	case !cur.IsRegular():
		return h, fmt.Errorf("%s: %w", name, ErrNotRegular)
	default:
		h.FileID = cur.FileID
		h.Unsynced = cur.State == index.StateStaged
		if vs, err = e.idx.Versions(cur.FileID); err != nil {
			return h, err
		}
	}
	deleted, err := e.idx.DeletedUnder(d.FileID)
	if err != nil {
		return h, err
	}
	for _, df := range deleted {
		if df.Name != name {
			continue
		}
		more, err := e.idx.Versions(df.FileID)
		if err != nil {
			return h, err
		}
		vs = append(vs, more...)
	}
	if len(vs) == 0 && h.FileID == "" {
		return h, fmt.Errorf("%s: no file and no deleted file of that name: %w", name, index.ErrNotExist)
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].HLC < vs[j].HLC })
	pruned := e.prunedVersions(ctx, vs)
	h.Versions = make([]PathVersion, len(vs))
	for i, v := range vs {
		h.Versions[i] = PathVersion{N: i + 1, Time: time.Unix(0, v.HLC).UTC(), Device: v.Author, Size: v.Size,
			Note: note(v, h.FileID, pruned[i]), Pruned: pruned[i], Version: v}
	}
	return h, nil
}

// prunedVersions says which of vs (sorted by time) retention has given up:
// with chunks, and superseded by a version of the same file before the
// newest GC cutoff, as prune decides (keepVersion). A store that does not answer
// leaves the cutoff known so far.
func (e *Engine) prunedVersions(ctx context.Context, vs []index.Version) []bool {
	// A listing must not wait for a store that does not answer.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.refreshGC(ctx); err != nil {
		e.log.Debug("read GC epochs for a version listing", "err", err)
	}
	out := make([]bool, len(vs))
	cutoff := e.VersionCutoff()
	if cutoff == 0 {
		return out
	}
	byFile := map[string][]int{} // file ID -> indexes into vs
	for i, v := range vs {
		byFile[v.FileID] = append(byFile[v.FileID], i)
	}
	for _, idx := range byFile {
		vers := make([]index.Version, len(idx))
		for k, i := range idx {
			vers[k] = vs[i]
		}
		for k, i := range idx {
			v := vs[i]
			out[i] = v.Content != nil && len(v.Content.Chunks) > 0 && !keepVersion(vers, k, cutoff)
		}
	}
	return out
}

// note says what a version is, for the listing.
func note(v index.Version, current string, pruned bool) string {
	var n []string
	switch {
	case v.Deleted:
		n = append(n, "deleted")
	case v.Current:
		n = append(n, "current")
	case v.Concurrent:
		n = append(n, "conflict (lost)")
	}
	if v.FileID != current {
		n = append(n, "earlier file")
	}
	if pruned {
		n = append(n, "pruned")
	}
	return strings.Join(n, ", ")
}

// Pick returns the version s names: version s.Version; or the one current
// at s.At (the newest made at or before it); or, with neither, the newest
// version that is not a deletion. A number or time naming nothing fails
// with ErrNoSuchVersion, a deletion with ErrDeletedVersion.
func (h PathHistory) Pick(s Selector) (PathVersion, error) {
	vs := h.Versions
	if len(vs) == 0 {
		return PathVersion{}, fmt.Errorf("%s has no synced versions yet: %w", h.Name, ErrNoSuchVersion)
	}
	var v PathVersion
	switch {
	case s.Version != 0 && !s.At.IsZero():
		return PathVersion{}, fmt.Errorf("give a version number or a time, not both: %w", ErrNoSuchVersion)
	case s.Version != 0:
		if s.Version < 1 || s.Version > len(vs) {
			return PathVersion{}, fmt.Errorf("%s has no version %d (it has 1 to %d): %w", h.Name, s.Version, len(vs), ErrNoSuchVersion)
		}
		v = vs[s.Version-1]
	case !s.At.IsZero():
		i := sort.Search(len(vs), func(i int) bool { return vs[i].Time.After(s.At) })
		if i == 0 {
			return PathVersion{}, fmt.Errorf("%s has no version at %s: its first is from %s: %w",
				h.Name, s.At.UTC().Format(time.RFC3339), vs[0].Time.Format(time.RFC3339), ErrNoSuchVersion)
		}
		v = vs[i-1]
	default:
		for i := len(vs) - 1; i >= 0; i-- {
			if !vs[i].Version.Deleted {
				return vs[i], nil
			}
		}
		return PathVersion{}, fmt.Errorf("%s: every version is a deletion: %w", h.Name, ErrDeletedVersion)
	}
	if v.Version.Deleted {
		return PathVersion{}, fmt.Errorf("version %d of %s is its deletion (%s); pick one before it: %w",
			v.N, h.Name, v.Time.Format(time.RFC3339), ErrDeletedVersion)
	}
	return v, nil
}

// Deleted lists the names in directory dir whose file is deleted and that
// hold nothing now, each with its newest deletion, sorted by name.
func (e *Engine) Deleted(dir uint64) ([]DeletedEntry, error) {
	d, err := e.idx.GetAttr(dir)
	if err != nil {
		return nil, err
	}
	if !d.IsDir() {
		return nil, fmt.Errorf("inode %d: %w", dir, index.ErrNotDir)
	}
	dfs, err := e.idx.DeletedUnder(d.FileID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []DeletedEntry
	for _, df := range dfs { // newest deletion first
		if seen[df.Name] {
			continue
		}
		seen[df.Name] = true
		if _, err := e.idx.Lookup(dir, df.Name); err == nil {
			continue // the name holds a file again
		} else if !errors.Is(err, index.ErrNotExist) {
			return nil, err
		}
		out = append(out, DeletedEntry{Name: df.Name, Deleted: time.Unix(0, df.Deleted.HLC).UTC(), Device: df.Deleted.Author, Size: df.Last.Size, FileID: df.FileID})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// contentOf returns a version's content, checking that a new version may
// name its chunks (a garbage collection may have removed them).
func (e *Engine) contentOf(ctx context.Context, v index.Version) (index.Content, error) {
	if v.Deleted || v.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return index.Content{}, fmt.Errorf("version of %s: %w", v.FileID, ErrDeletedVersion)
	}
	var c index.Content
	if v.Content != nil {
		c = *v.Content
	}
	if err := e.usableChunks(ctx, c.Chunks); err != nil {
		return c, err
	}
	return c, nil
}

// RestoreOver writes version v back over the live regular file ino as a
// new version of it (so the restore itself can be undone). Its chunks are
// named again, not uploaded again. A file with changes not yet uploaded is
// flushed first (within ctx); if it is still Staged (open for writing, the
// store unreachable), it fails with index.ErrStagedContent.
func (e *Engine) RestoreOver(ctx context.Context, ino uint64, v index.Version) (index.Attr, error) {
	c, err := e.contentOf(ctx, v)
	if err != nil {
		return index.Attr{}, err
	}
	if a, err := e.idx.GetAttr(ino); err != nil {
		return index.Attr{}, err
	} else if a.State == index.StateStaged {
		// Whatever the flush manages, RestoreContent refuses what is left.
		if err := e.Flush(ctx, nil); err != nil {
			e.log.Warn("flush before restore", "ino", ino, "err", err)
		}
	}
	a, err := e.idx.RestoreContent(ino, c)
	if err != nil {
		return a, err
	}
	kick(e.kickUpload)
	return a, nil
}

// RestoreAsNew makes a new file name in directory dir holding version v,
// with n's mode and owner and v's modification time.
func (e *Engine) RestoreAsNew(ctx context.Context, dir uint64, name string, v index.Version, n index.NewNode) (index.Attr, error) {
	c, err := e.contentOf(ctx, v)
	if err != nil {
		return index.Attr{}, err
	}
	a, err := e.idx.CreateFromContent(dir, name, n, c, v.Mtime)
	if err != nil {
		return a, err
	}
	kick(e.kickUpload)
	return a, nil
}

// WriteVersion writes version v's bytes to w: inline content directly,
// chunks fetched from the store one by one, each authenticated and checked
// against its ID. It returns the bytes written.
func (e *Engine) WriteVersion(ctx context.Context, v index.Version, w io.Writer) (int64, error) {
	c, err := e.contentOf(ctx, v)
	if err != nil {
		return 0, err
	}
	if len(c.Chunks) == 0 {
		if int64(len(c.Inline)) != c.Size {
			return 0, fmt.Errorf("inline content of %s has %d bytes, want %d: %w", v.FileID, len(c.Inline), c.Size, ErrDamaged)
		}
		n, err := w.Write(c.Inline)
		return int64(n), err
	}
	var total int64
	for _, ref := range c.Chunks {
		plain, err := e.getChunk(ctx, ref)
		if errors.Is(err, blobstore.ErrNotExist) {
			return total, fmt.Errorf("%w: %w", ErrChunkGone, err)
		}
		if err != nil {
			return total, err
		}
		n, err := w.Write(plain)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	if total != c.Size {
		return total, fmt.Errorf("content of %s has %d bytes, want %d: %w", v.FileID, total, c.Size, ErrDamaged)
	}
	return total, nil
}

// SaveFile writes a local file at dst from write, never leaving a partial
// file under that name: the bytes go to a temporary file in the same
// directory, which is synced and then linked in place (refusing an
// existing dst with os.ErrExist) or, with force, renamed over it. mode is
// the new file's permission bits; a non-zero mtime is set on it.
func SaveFile(dst string, mode os.FileMode, mtime time.Time, force bool, write func(io.Writer) (int64, error)) (err error) {
	if !force {
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("%s: %w", dst, os.ErrExist)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".syncfs-restore-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if _, err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := tmp.Chmod(mode.Perm()); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(tmp.Name(), time.Time{}, mtime); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	if force {
		err = os.Rename(tmp.Name(), dst)
	} else {
		// link fails if dst appeared meanwhile: no race replaces it.
		err = os.Link(tmp.Name(), dst)
		if err != nil && !errors.Is(err, os.ErrExist) {
			// No hard links here (FAT, some network file systems): a
			// rename, having looked once more.
			if _, serr := os.Lstat(dst); serr == nil {
				return fmt.Errorf("%s: %w", dst, os.ErrExist)
			}
			err = os.Rename(tmp.Name(), dst)
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
