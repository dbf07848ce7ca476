package main

// A generated tree of files, directories, symlinks and hard links with
// chosen modes, mtimes and xattrs, written through a mount and compared
// against what a later mount shows.

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type nodeKind int

const (
	kindFile nodeKind = iota
	kindDir
	kindSymlink
)

func (k nodeKind) String() string {
	return [...]string{"file", "dir", "symlink"}[k]
}

// node is one expected entry of a tree, by its slash-separated path.
type node struct {
	rel    string
	kind   nodeKind
	perm   os.FileMode
	mtime  time.Time
	size   int64  // files
	seed   uint64 // files: content is content(seed, size)
	sum    [32]byte
	target string            // symlinks
	linkOf string            // a hard link: the rel of the first name
	xattrs map[string]string // user xattrs
}

// tree is an expected tree.
type tree struct {
	nodes map[string]*node
}

// treeOptions says how big a tree genTree makes.
type treeOptions struct {
	dirs      int   // directories, nested up to maxDepth
	files     int   // small files (0 to 64 KiB, most under 4 KiB)
	empty     int   // empty files
	big       int   // large random files
	bigSize   int64 // their typical size
	symlinks  int
	hardlinks int // extra names for existing small files
	xattrs    int // files given a user xattr
}

const maxDepth = 5

// content returns the deterministic content of a file.
func content(seed uint64, size int64) []byte {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	b := make([]byte, size)
	rand.NewChaCha8(key).Read(b)
	return b
}

// randTime returns a time between 2001 and 2033 with nanoseconds.
func randTime(rng *rand.Rand) time.Time {
	return time.Unix(1e9+rng.Int64N(1e9), rng.Int64N(1e9))
}

// genTree makes a random tree from rng.
func genTree(rng *rand.Rand, o treeOptions) *tree {
	tr := &tree{nodes: map[string]*node{}}
	dirs := []string{""}
	dirPerms := []os.FileMode{0o755, 0o755, 0o700, 0o750, 0o711}
	for i := range o.dirs {
		parent := dirs[rng.IntN(len(dirs))]
		for strings.Count(parent, "/") >= maxDepth-1 {
			parent = dirs[rng.IntN(len(dirs))]
		}
		rel := path.Join(parent, fmt.Sprintf("dir%03d", i))
		dirs = append(dirs, rel)
		tr.nodes[rel] = &node{rel: rel, kind: kindDir, perm: dirPerms[rng.IntN(len(dirPerms))], mtime: randTime(rng)}
	}
	filePerms := []os.FileMode{0o644, 0o644, 0o644, 0o600, 0o755, 0o400, 0o640}
	exts := []string{".txt", ".jpg", "", ".tar.gz", ".md"}
	addFile := func(name string, size int64) *node {
		rel := path.Join(dirs[rng.IntN(len(dirs))], name)
		n := &node{rel: rel, kind: kindFile, perm: filePerms[rng.IntN(len(filePerms))], mtime: randTime(rng), size: size, seed: rng.Uint64()}
		n.sum = sha256.Sum256(content(n.seed, n.size))
		tr.nodes[rel] = n
		return n
	}
	var small []*node
	for i := range o.files {
		var size int64
		switch r := rng.IntN(100); {
		case i == 0:
			size = 4096 // the inline limit, both sides of it
		case i == 1:
			size = 4097
		case r < 70:
			size = 1 + rng.Int64N(1024)
		case r < 90:
			size = 1024 + rng.Int64N(3072)
		default:
			size = 4096 + rng.Int64N(60<<10)
		}
		small = append(small, addFile(fmt.Sprintf("file%04d%s", i, exts[rng.IntN(len(exts))]), size))
	}
	for i := range o.empty {
		addFile(fmt.Sprintf("empty%02d", i), 0)
	}
	for i := range o.big {
		size := o.bigSize/2 + rng.Int64N(o.bigSize)
		addFile(fmt.Sprintf("big%02d.bin", i), size)
	}
	for i := range o.symlinks {
		var target string
		switch i % 4 {
		case 0:
			target = path.Base(small[rng.IntN(len(small))].rel) // may dangle: another dir's file
		case 1:
			target = "../" + strings.Repeat("x", 1+rng.IntN(200))
		case 2:
			target = "/nonexistent/absolute/target"
		default:
			target = small[rng.IntN(len(small))].rel
		}
		rel := path.Join(dirs[rng.IntN(len(dirs))], fmt.Sprintf("link%03d", i))
		tr.nodes[rel] = &node{rel: rel, kind: kindSymlink, perm: 0o777, mtime: randTime(rng), target: target}
	}
	for i := range o.hardlinks {
		first := small[i*7%len(small)]
		rel := path.Join(dirs[rng.IntN(len(dirs))], fmt.Sprintf("hard%02d", i))
		cp := *first
		cp.rel, cp.linkOf = rel, first.rel
		tr.nodes[rel] = &cp
	}
	for i := range o.xattrs {
		n := small[(i*13+5)%len(small)]
		if n.linkOf == "" {
			n.xattrs = map[string]string{"user.test": fmt.Sprintf("value %d", i)}
		}
	}
	return tr
}

// sorted returns the tree's nodes of kind k, parents before children.
func (tr *tree) sorted(k nodeKind) []*node {
	var ns []*node
	for _, n := range tr.nodes {
		if n.kind == k {
			ns = append(ns, n)
		}
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i].rel < ns[j].rel })
	return ns
}

// totalSize is the sum of the file sizes (each inode once).
func (tr *tree) totalSize() int64 {
	var s int64
	for _, n := range tr.nodes {
		if n.kind == kindFile && n.linkOf == "" {
			s += n.size
		}
	}
	return s
}

// workers is how many goroutines write or check a tree: FUSE requests
// are served in parallel, and a few in flight hide each one's latency.
const workers = 4

// each calls f on every node, from a few goroutines. A failure is reported
// with t.Errorf and stops handing out further nodes; each reports whether
// all calls succeeded.
func each(t testing.TB, ns []*node, f func(*node) error) bool {
	t.Helper()
	var failed atomic.Bool
	var wg sync.WaitGroup
	work := make(chan *node)
	for range workers {
		wg.Go(func() {
			for n := range work {
				if failed.Load() {
					continue
				}
				if err := f(n); err != nil {
					failed.Store(true)
					t.Errorf("%s: %v", n.rel, err)
				}
			}
		})
	}
	for _, n := range ns {
		work <- n
	}
	close(work)
	wg.Wait()
	return !failed.Load()
}

// write creates the tree under root.
func (tr *tree) write(t testing.TB, root string) {
	t.Helper()
	// Parents before children: one at a time.
	for _, n := range tr.sorted(kindDir) {
		if err := os.Mkdir(filepath.Join(root, n.rel), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var files, links []*node
	for _, n := range tr.sorted(kindFile) {
		if n.linkOf != "" {
			links = append(links, n)
		} else {
			files = append(files, n)
		}
	}
	ok := each(t, files, func(n *node) error {
		p := filepath.Join(root, n.rel)
		if err := os.WriteFile(p, content(n.seed, n.size), 0o600); err != nil {
			return err
		}
		if err := os.Chmod(p, n.perm); err != nil {
			return err
		}
		for k, v := range n.xattrs {
			if err := syscall.Setxattr(p, k, []byte(v), 0); err != nil {
				return fmt.Errorf("setxattr %s: %w", k, err)
			}
		}
		return nil
	})
	ok = ok && each(t, links, func(n *node) error {
		return os.Link(filepath.Join(root, n.linkOf), filepath.Join(root, n.rel))
	})
	ok = ok && each(t, tr.sorted(kindSymlink), func(n *node) error {
		return os.Symlink(n.target, filepath.Join(root, n.rel))
	})
	// Times last, directories deepest first: creating an entry changes
	// its parent's mtime.
	ok = ok && each(t, tr.sorted(kindFile), func(n *node) error {
		return os.Chtimes(filepath.Join(root, n.rel), n.mtime, n.mtime)
	})
	ok = ok && each(t, tr.sorted(kindSymlink), func(n *node) error {
		ts := []unix.Timespec{unix.NsecToTimespec(n.mtime.UnixNano()), unix.NsecToTimespec(n.mtime.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, n.rel), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("lutimes: %w", err)
		}
		return nil
	})
	if !ok {
		t.FailNow()
	}
	dirs := tr.sorted(kindDir)
	slices.Reverse(dirs)
	for _, n := range dirs {
		p := filepath.Join(root, n.rel)
		if err := os.Chmod(p, n.perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, n.mtime, n.mtime); err != nil {
			t.Fatal(err)
		}
	}
}

// errorCap bounds how many differences verify reports.
const errorCap = 20

// verify compares the tree under root with tr: the set of names, each
// entry's type, permissions, mtime (to the nanosecond), size, content hash,
// symlink target, hard links and xattrs. skipContent leaves file contents
// unread.
func (tr *tree) verify(t testing.TB, root string, skipContent bool) {
	t.Helper()
	var errs atomic.Int64
	errorf := func(format string, args ...any) {
		t.Helper()
		if errs.Add(1) <= errorCap {
			t.Errorf(format, args...)
		}
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel != "." {
			seen[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	for rel := range seen {
		if tr.nodes[rel] == nil {
			errorf("unexpected entry %s", rel)
		}
	}
	var mu sync.Mutex
	inodes := map[string]uint64{} // by path: the inode of each file
	var present []*node
	for _, rel := range slices.Sorted(maps.Keys(tr.nodes)) {
		if seen[rel] {
			present = append(present, tr.nodes[rel])
		} else {
			errorf("missing %s %s", tr.nodes[rel].kind, rel)
		}
	}
	each(t, present, func(n *node) error {
		rel := n.rel
		p := filepath.Join(root, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			errorf("lstat %s: %v", rel, err)
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		switch {
		case n.kind == kindDir && !fi.IsDir(),
			n.kind == kindFile && !fi.Mode().IsRegular(),
			n.kind == kindSymlink && fi.Mode()&os.ModeSymlink == 0:
			errorf("%s: mode %v, want a %s", rel, fi.Mode(), n.kind)
			return nil
		}
		if n.kind != kindSymlink && fi.Mode().Perm() != n.perm {
			errorf("%s: permissions %v, want %v", rel, fi.Mode().Perm(), n.perm)
		}
		if !fi.ModTime().Equal(n.mtime) {
			errorf("%s: mtime %v, want %v", rel, fi.ModTime().UTC(), n.mtime.UTC())
		}
		switch n.kind {
		case kindSymlink:
			if got, err := os.Readlink(p); err != nil || got != n.target {
				errorf("%s: readlink %q %v, want %q", rel, got, err, n.target)
			}
			if fi.Size() != int64(len(n.target)) {
				errorf("%s: symlink size %d, want %d", rel, fi.Size(), len(n.target))
			}
		case kindFile:
			if fi.Size() != n.size {
				errorf("%s: size %d, want %d", rel, fi.Size(), n.size)
			}
			mu.Lock()
			inodes[rel] = st.Ino
			mu.Unlock()
			first := cmp.Or(n.linkOf, n.rel)
			if want := tr.links(first); st.Nlink != uint64(want) {
				errorf("%s: %d links, want %d", rel, st.Nlink, want)
			}
			for k, v := range n.xattrs {
				buf := make([]byte, 256)
				m, err := syscall.Getxattr(p, k, buf)
				if err != nil || string(buf[:max(m, 0)]) != v {
					errorf("%s: xattr %s = %q %v, want %q", rel, k, buf[:max(m, 0)], err, v)
				}
			}
			if !skipContent {
				if sum, size, err := hashFile(p); err != nil {
					errorf("%s: read: %v", rel, err)
				} else if sum != n.sum || size != n.size {
					errorf("%s: content differs (%d bytes read, want %d)", rel, size, n.size)
				}
			}
		}
		return nil
	})
	for rel, ino := range inodes {
		if first := tr.nodes[rel].linkOf; first != "" {
			if want, ok := inodes[first]; ok && want != ino {
				errorf("%s: inode %d, want %d (a hard link of %s)", rel, ino, want, first)
			}
		}
	}
	if n := errs.Load(); n > errorCap {
		t.Errorf("... and %d more differences", n-errorCap)
	}
}

// links counts the names of the file first (its own and hard links).
func (tr *tree) links(first string) int {
	c := 0
	for _, n := range tr.nodes {
		if n.kind == kindFile && (n.rel == first || n.linkOf == first) {
			c++
		}
	}
	return c
}

// hashFile returns the sha256 and length of a file's content.
func hashFile(p string) ([32]byte, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return [32]byte{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return [32]byte{}, n, err
	}
	return [32]byte(h.Sum(nil)), n, nil
}

// readAndCheck reads a whole file: it returns the read's error, or an
// error if the content read is not the one whose hash is want.
func readAndCheck(p string, want [32]byte) error {
	sum, _, err := hashFile(p)
	if err != nil {
		return err
	}
	if sum != want {
		return errors.New("content differs: wrong data returned without an error")
	}
	return nil
}
