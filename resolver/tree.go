package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/index"
)

// Tree is one directory as stored in trees/<id>: its entries sorted by name
// bytes. A tree's ID is the keyed hash of its plaintext, so equal
// directories are one object.
type Tree struct {
	Format  int         `json:"format"`
	Entries []TreeEntry `json:"entries"`
}

// TreeEntry is one name in a tree: the entry's version, the child's full
// record, and for a directory the ID of its own tree.
type TreeEntry struct {
	Name   []byte           `json:"name"`
	Dentry TreeDentry       `json:"dentry"`
	File   index.FileRecord `json:"file"`
	Tree   string           `json:"tree,omitempty"`
}

// TreeDentry is a directory entry's version. Dev is the author device
// (always set: a tree has no carrying journal to default to).
type TreeDentry struct {
	VV  index.VV `json:"vv"`
	HLC int64    `json:"hlc"`
	Dev string   `json:"dev,omitempty"`
}

// IsDir reports whether the entry is a directory.
func (e TreeEntry) IsDir() bool { return e.File.Mode&syscall.S_IFMT == syscall.S_IFDIR }

func treeName(id string) string { return treesPrefix + id }

const (
	treesPrefix     = "trees/"
	snapshotsPrefix = "snapshots/"
	// maxTreePlain bounds a tree's plaintext (a directory of a few hundred
	// thousand entries).
	maxTreePlain = maxPlain
)

// ErrBadTree reports a tree whose content is inconsistent: names that are
// not single path components, entries out of order, a directory without
// its tree.
var ErrBadTree = errors.New("malformed tree")

// encodeTree returns a tree's plaintext and its ID. Entries must be sorted.
// json.Marshal is deterministic here (struct fields in order, map keys
// sorted), so one directory always gives one ID.
func encodeTree(keys *crypto.Keys, t *Tree) ([]byte, string, error) {
	t.Format = FormatVersion
	if t.Entries == nil {
		t.Entries = []TreeEntry{}
	}
	plain, err := json.Marshal(t)
	if err != nil {
		return nil, "", fmt.Errorf("encode tree: %w", err)
	}
	return plain, keys.TreeID(plain), nil
}

// putTree stores a tree unless an identical one is there already.
func putTree(ctx context.Context, repo *Repo, c *codec, t *Tree) (string, error) {
	plain, id, err := encodeTree(repo.Keys, t)
	if err != nil {
		return "", err
	}
	if len(plain) > maxTreePlain {
		return "", fmt.Errorf("directory of %d entries is too large for one tree object (%d bytes)", len(t.Entries), len(plain))
	}
	sealed := repo.Keys.Seal(crypto.KindTree, id, c.compress(plain))
	err = repo.Store.PutIfAbsent(ctx, treeName(id), bytes.NewReader(sealed), int64(len(sealed)))
	if err != nil && !errors.Is(err, blobstore.ErrExist) {
		return "", fmt.Errorf("store tree %s: %w", treeName(id), err)
	}
	return id, nil
}

// readTree fetches, authenticates and checks one tree. A missing tree
// wraps blobstore.ErrNotExist; anything else wrong wraps ErrDamaged.
func readTree(ctx context.Context, repo *Repo, c *codec, id string) (*Tree, error) {
	name := treeName(id)
	sealed, err := blobstore.GetAll(ctx, repo.Store, name, maxTreePlain+1024)
	if err != nil {
		return nil, fmt.Errorf("fetch tree %s: %w", name, err)
	}
	body, err := repo.Keys.Open(crypto.KindTree, id, sealed)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w: %w", name, ErrDamaged, err)
	}
	plain, err := c.decompress(body)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", name, err)
	}
	if repo.Keys.TreeID(plain) != id {
		return nil, fmt.Errorf("tree %s: content does not match its ID: %w", name, ErrDamaged)
	}
	var t Tree
	if err := json.Unmarshal(plain, &t); err != nil {
		return nil, fmt.Errorf("tree %s: %v: %w", name, err, ErrDamaged)
	}
	if t.Format != FormatVersion {
		return nil, fmt.Errorf("tree %s: %w: version %d", name, ErrUnknownFormat, t.Format)
	}
	if err := checkTree(&t); err != nil {
		return nil, fmt.Errorf("tree %s: %w: %w", name, ErrDamaged, err)
	}
	return &t, nil
}

// checkTree rejects trees a restore must not follow: a name that is not
// one path component would write outside the target directory.
func checkTree(t *Tree) error {
	for i, e := range t.Entries {
		if err := checkEntryName(e.Name); err != nil {
			return err
		}
		if i > 0 && bytes.Compare(t.Entries[i-1].Name, e.Name) >= 0 {
			return fmt.Errorf("%w: entries out of order at %q", ErrBadTree, e.Name)
		}
		if e.IsDir() != (e.Tree != "") {
			return fmt.Errorf("%w: entry %q: directory and tree disagree", ErrBadTree, e.Name)
		}
		if e.Tree != "" && !isHex(e.Tree, crypto.ChunkIDLen) {
			return fmt.Errorf("%w: entry %q: bad tree ID", ErrBadTree, e.Name)
		}
		if c := e.File.Content; c != nil {
			for _, r := range c.Chunks {
				if !isHex(r.ID, crypto.ChunkIDLen) || r.Len < 0 {
					return fmt.Errorf("%w: entry %q: bad chunk reference", ErrBadTree, e.Name)
				}
			}
		}
	}
	return nil
}

func checkEntryName(n []byte) error {
	if len(n) == 0 || len(n) > 255 || bytes.IndexByte(n, '/') >= 0 || bytes.IndexByte(n, 0) >= 0 ||
		string(n) == "." || string(n) == ".." {
		return fmt.Errorf("%w: entry name %q", ErrBadTree, n)
	}
	return nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// treeStats counts what a tree walk found, for a snapshot record.
type treeStats struct {
	files   map[string]struct{} // file IDs of non-directories
	bytes   int64
	chunks  map[string]struct{}
	trees   map[string]struct{} // every tree written or found present
	stale   []string            // paths written with their last uploaded content
	skipped []string            // paths left out: never uploaded
}

func newTreeStats() *treeStats {
	return &treeStats{files: map[string]struct{}{}, chunks: map[string]struct{}{}, trees: map[string]struct{}{}}
}

func (s *treeStats) add(f *index.FileRecord) {
	if f.Mode&syscall.S_IFMT == syscall.S_IFDIR {
		return
	}
	if _, ok := s.files[f.ID]; ok {
		return // another name of a file counted already
	}
	s.files[f.ID] = struct{}{}
	if f.Content == nil {
		return
	}
	s.bytes += f.Content.Size
	for _, r := range f.Content.Chunks {
		s.chunks[r.ID] = struct{}{}
	}
}

// treeWriter writes the trees of an index's namespace, bottom up.
type treeWriter struct {
	repo  *Repo
	r     *index.TreeReader
	codec codec
	stats *treeStats
}

// writeDir writes the tree of directory ino (at path, for messages) and
// every tree below it, and returns its ID.
func (w *treeWriter) writeDir(ctx context.Context, ino uint64, path string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	recs, err := w.r.DirRecords(ino)
	if err != nil {
		return "", err
	}
	slices.SortFunc(recs, func(a, b index.DirRecord) int { return bytes.Compare(a.Name, b.Name) })
	t := &Tree{Entries: make([]TreeEntry, 0, len(recs))}
	for _, d := range recs {
		p := joinPath(path, d.Name)
		if d.Unsynced {
			w.stats.skipped = append(w.stats.skipped, p)
			continue
		}
		if d.Stale {
			w.stats.stale = append(w.stats.stale, p)
		}
		e := TreeEntry{Name: d.Name, Dentry: TreeDentry{VV: d.Dentry.VV, HLC: d.Dentry.HLC, Dev: d.Dentry.Dev}, File: d.File}
		if e.IsDir() {
			if e.Tree, err = w.writeDir(ctx, d.Ino, p); err != nil {
				return "", err
			}
		}
		w.stats.add(&e.File)
		t.Entries = append(t.Entries, e)
	}
	id, err := putTree(ctx, w.repo, &w.codec, t)
	if err != nil {
		return "", err
	}
	w.stats.trees[id] = struct{}{}
	return id, nil
}

// joinPath joins a slash-separated path shown to users and one name.
func joinPath(dir string, name []byte) string {
	if dir == "/" {
		return "/" + string(name)
	}
	return dir + "/" + string(name)
}
