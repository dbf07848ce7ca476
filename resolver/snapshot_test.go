package resolver

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/local"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// snapFixture is a device with a small tree of every kind of file.
type snapFixture struct {
	dev  *device
	repo *Repo
	dir  string // the store's directory
}

// put creates (or rewrites) a regular file below parent with data.
func (d *device) put(t *testing.T, parent uint64, name string, data []byte) index.Attr {
	t.Helper()
	a, err := d.idx.Lookup(parent, name)
	if errors.Is(err, index.ErrNotExist) {
		a, err = d.idx.Create(parent, name, index.NewNode{Mode: syscall.S_IFREG | 0o644})
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.idx.Open(a.Ino, true, true); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.cache.Path(cache.Key{Ino: a.Ino, Cver: a.Cver}), data, 0o600); err != nil {
		t.Fatal(err)
	}
	d.idx.NoteWrite(a.Ino, int64(len(data)), time.Now().UnixNano())
	if err := d.idx.Release(a.Ino, true); err != nil {
		t.Fatal(err)
	}
	return a
}

func (d *device) mknode(t *testing.T, parent uint64, name string, n index.NewNode) index.Attr {
	t.Helper()
	a, err := d.idx.Create(parent, name, n)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return a
}

func (d *device) setattr(t *testing.T, ino uint64, in index.SetAttrIn) {
	t.Helper()
	if _, err := d.idx.SetAttr(ino, in); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

var (
	fixSmall = []byte("small file, inline in its record\n")
	fixBig   = randBytes(42, 5<<20+123) // several chunks
)

// fixMtime is a modification time with nanoseconds.
const fixMtime = int64(1_600_000_000_123_456_789)

func newSnapFixture(t *testing.T) *snapFixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	s, err := local.Create(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()}); err != nil {
		t.Fatal(err)
	}
	d := newDevice(t, s, "aaaaaaaaaaaaaaaa")
	root := index.RootIno
	sub := d.mknode(t, root, "sub", index.NewNode{Mode: syscall.S_IFDIR | 0o750})
	d.put(t, root, "empty", nil)
	small := d.put(t, root, "small", fixSmall)
	d.put(t, sub.Ino, "big", fixBig)
	if _, err := d.idx.Link(small.Ino, sub.Ino, "small-link"); err != nil {
		t.Fatal(err)
	}
	d.mknode(t, root, "symlink", index.NewNode{Mode: syscall.S_IFLNK | 0o777, Target: "sub/big"})
	d.mknode(t, root, "fifo", index.NewNode{Mode: syscall.S_IFIFO | 0o640})
	suid := d.put(t, root, "suid", []byte("#!/bin/sh\n"))
	d.setattr(t, suid.Ino, index.SetAttrIn{Mode: ptr(uint32(0o4755))})
	sticky := d.mknode(t, root, "sticky", index.NewNode{Mode: syscall.S_IFDIR | 0o1777})
	if err := d.idx.SetXattr(small.Ino, "user.color", []byte("blue"), 0); err != nil {
		t.Fatal(err)
	}
	for _, ino := range []uint64{small.Ino, suid.Ino, sticky.Ino, sub.Ino} {
		d.setattr(t, ino, index.SetAttrIn{Mtime: ptr(fixMtime)})
	}
	repo, err := Open(testCtx(t), s, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	f := &snapFixture{dev: d, repo: repo, dir: dir}
	f.flush(t)
	return f
}

func (f *snapFixture) flush(t *testing.T) {
	t.Helper()
	if err := f.dev.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
}

func (f *snapFixture) snapshot(t *testing.T, name string) Snapshot {
	t.Helper()
	c, err := CreateSnapshot(testCtx(t), f.repo, f.dev.idx, SnapshotOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Skipped) > 0 || len(c.Stale) > 0 {
		t.Fatalf("snapshot after flush left out %v, stale %v", c.Skipped, c.Stale)
	}
	return c.Snapshot
}

func TestSnapshotCreateAndRestore(t *testing.T) {
	f := newSnapFixture(t)
	s1 := f.snapshot(t, "first")
	t.Run("record", func(t *testing.T) {
		// empty, small (two names), big, suid: four files; fifo and
		// symlink are files too.
		if s1.Files != 6 || s1.Bytes != int64(len(fixSmall)+len(fixBig)+len("#!/bin/sh\n")) || s1.Chunks < 2 {
			t.Fatalf("counts: files %d bytes %d chunks %d", s1.Files, s1.Bytes, s1.Chunks)
		}
		if s1.Positions[f.dev.idx.Device()] == 0 {
			t.Fatalf("positions %v lack the device's own journal", s1.Positions)
		}
	})
	t.Run("same tree same ID", func(t *testing.T) {
		s2 := f.snapshot(t, "again")
		if s2.Tree != s1.Tree || s2.ID == s1.ID {
			t.Fatalf("tree %s then %s; IDs %s, %s", s1.Tree, s2.Tree, s1.ID, s2.ID)
		}
	})
	t.Run("restore", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "out")
		rep, err := RestoreSnapshot(testCtx(t), f.repo, s1, dst, RestoreOptions{})
		if err != nil {
			t.Fatalf("restore: %v (%+v)", err, rep)
		}
		if len(rep.Warnings) > 0 {
			t.Errorf("warnings: %v", rep.Warnings)
		}
		checkFile(t, filepath.Join(dst, "empty"), nil)
		checkFile(t, filepath.Join(dst, "small"), fixSmall)
		checkFile(t, filepath.Join(dst, "sub/big"), fixBig)
		checkFile(t, filepath.Join(dst, "sub/small-link"), fixSmall)
		a, b := lstat(t, filepath.Join(dst, "small")), lstat(t, filepath.Join(dst, "sub/small-link"))
		if a.Ino != b.Ino || a.Nlink != 2 {
			t.Errorf("hard links: inodes %d %d, nlink %d", a.Ino, b.Ino, a.Nlink)
		}
		if a.Mtim.Nano() != fixMtime {
			t.Errorf("mtime %d, want %d", a.Mtim.Nano(), fixMtime)
		}
		if v, err := unixGetxattr(filepath.Join(dst, "small"), "user.color"); err != nil || string(v) != "blue" {
			t.Errorf("xattr: %q %v", v, err)
		}
		if target, err := os.Readlink(filepath.Join(dst, "symlink")); err != nil || target != "sub/big" {
			t.Errorf("symlink: %q %v", target, err)
		}
		for name, want := range map[string]uint32{"fifo": syscall.S_IFIFO | 0o640, "suid": syscall.S_IFREG | 0o4755,
			"sticky": syscall.S_IFDIR | 0o1777, "sub": syscall.S_IFDIR | 0o750} {
			if st := lstat(t, filepath.Join(dst, name)); st.Mode != want {
				t.Errorf("%s: mode %#o, want %#o", name, st.Mode, want)
			}
		}
		if st := lstat(t, filepath.Join(dst, "sub")); st.Mtim.Nano() != fixMtime {
			t.Errorf("directory mtime %d, want %d (set after its children)", st.Mtim.Nano(), fixMtime)
		}
	})
	t.Run("refuses a non-empty target", func(t *testing.T) {
		dst := t.TempDir()
		os.WriteFile(filepath.Join(dst, "x"), nil, 0o600)
		if _, err := RestoreSnapshot(testCtx(t), f.repo, s1, dst, RestoreOptions{}); !errors.Is(err, ErrTargetNotEmpty) {
			t.Fatalf("restore into a non-empty directory: %v", err)
		}
	})
}

func checkFile(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes differ from the %d expected", p, len(got), len(want))
	}
}

func lstat(t *testing.T, p string) syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func unixGetxattr(p, name string) ([]byte, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func TestSnapshotListResolveDiff(t *testing.T) {
	f := newSnapFixture(t)
	s1 := f.snapshot(t, "daily")
	d := f.dev
	d.put(t, index.RootIno, "small", []byte("changed"))
	d.put(t, index.RootIno, "new", []byte("new file"))
	if err := d.idx.Unlink(index.RootIno, "fifo"); err != nil {
		t.Fatal(err)
	}
	sub, _ := d.idx.Lookup(index.RootIno, "sub")
	d.setattr(t, sub.Ino, index.SetAttrIn{Mode: ptr(uint32(0o700))})
	f.flush(t)
	s2 := f.snapshot(t, "daily")
	t.Run("list", func(t *testing.T) {
		l, err := ListSnapshots(testCtx(t), f.repo)
		if err != nil || len(l) != 2 || l[0].ID != s1.ID || l[1].ID != s2.ID {
			t.Fatalf("list: %v %+v", err, l)
		}
	})
	t.Run("resolve", func(t *testing.T) {
		for ref, want := range map[string]string{s1.ID: s1.ID, s1.ID[:8]: s1.ID, "daily": s2.ID} {
			got, err := ResolveSnapshot(testCtx(t), f.repo, ref)
			if err != nil || got.ID != want {
				t.Errorf("resolve %q: %v %s, want %s", ref, err, got.ID, want)
			}
		}
		if _, err := ResolveSnapshot(testCtx(t), f.repo, "nosuch"); !errors.Is(err, ErrSnapshotNotFound) {
			t.Errorf("unknown name: %v", err)
		}
		// A name that is also a prefix of another's ID.
		s3 := f.snapshot(t, s1.ID[:8])
		_, err := ResolveSnapshot(testCtx(t), f.repo, s1.ID[:8])
		if !errors.Is(err, ErrSnapshotAmbiguous) || !strings.Contains(err.Error(), s1.ID) || !strings.Contains(err.Error(), s3.ID) {
			t.Errorf("ambiguous: %v", err)
		}
		if err := DeleteSnapshot(testCtx(t), f.repo, s3.ID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("diff", func(t *testing.T) {
		ch, err := DiffSnapshots(testCtx(t), f.repo, s1, s2)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range ch {
			got = append(got, c.Kind+" "+c.Path+" "+strings.Join(c.What, ","))
		}
		want := []string{"M / times", "- /fifo ", "+ /new ", "M /small content,times", "M /sub mode", "M /sub/small-link content,times"}
		if !slices.Equal(got, want) {
			t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("damaged record", func(t *testing.T) {
		bad := strings.Repeat("0", snapshotIDLen)
		if err := blobstore.PutBytes(testCtx(t), f.repo.Store, snapshotName(bad), []byte("garbage")); err != nil {
			t.Fatal(err)
		}
		l, err := ListSnapshots(testCtx(t), f.repo)
		if !errors.Is(err, ErrDamaged) || len(l) != 2 || !strings.Contains(err.Error(), bad) {
			t.Fatalf("list with a damaged record: %v, %d listed", err, len(l))
		}
	})
}

func TestSnapshotVerifyAndRefs(t *testing.T) {
	f := newSnapFixture(t)
	s := f.snapshot(t, "")
	var trees, chunks []string
	err := walkSnapshotRefs(testCtx(t), f.repo, s, func(id string) error { trees = append(trees, id); return nil },
		func(id string) error { chunks = append(chunks, id); return nil })
	if err != nil {
		t.Fatal(err)
	}
	// root, sub and sticky (empty) trees.
	if len(trees) != 3 || int64(len(chunks)) != s.Chunks {
		t.Fatalf("walk: %d trees, %d chunks (record says %d)", len(trees), len(chunks), s.Chunks)
	}
	t.Run("ok", func(t *testing.T) {
		rep, err := VerifySnapshot(testCtx(t), f.repo, s, VerifyOptions{})
		if err != nil || len(rep.Problems) > 0 || rep.Trees != 3 || int64(rep.Chunks) != s.Chunks {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
	t.Run("missing and tampered chunks", func(t *testing.T) {
		slices.Sort(chunks)
		gone, flipped := chunkName(chunks[0]), chunkName(chunks[1])
		if err := os.Remove(filepath.Join(f.dir, gone)); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(f.dir, flipped)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := VerifySnapshot(testCtx(t), f.repo, s, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 2 {
			t.Fatalf("problems: %+v", rep.Problems)
		}
		for _, pr := range rep.Problems {
			want := map[string]string{gone: ProblemMissing, flipped: ProblemDamaged}[pr.Object]
			if pr.Kind != want || !slices.Equal(pr.Paths, []string{"/sub/big"}) {
				t.Errorf("problem %+v, want kind %q at /sub/big", pr, want)
			}
		}
		rr, err := RestoreSnapshot(testCtx(t), f.repo, s, filepath.Join(t.TempDir(), "out"), RestoreOptions{})
		if !errors.Is(err, ErrRestoreIncomplete) || len(rr.Errors) != 2 {
			t.Fatalf("restore with bad chunks: %v %+v", err, rr)
		}
	})
	t.Run("damaged tree", func(t *testing.T) {
		p := filepath.Join(f.dir, treeName(s.Tree))
		if err := os.WriteFile(p, []byte("not a tree"), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := VerifySnapshot(testCtx(t), f.repo, s, VerifyOptions{})
		if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Object != treeName(s.Tree) || rep.Problems[0].Kind != ProblemDamaged {
			t.Fatalf("verify with a damaged root tree: %v %+v", err, rep)
		}
		if err := walkSnapshotRefs(testCtx(t), f.repo, s, func(string) error { return nil }, func(string) error { return nil }); !errors.Is(err, ErrDamaged) {
			t.Fatalf("walk over a damaged tree: %v", err)
		}
	})
}
