package resolver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
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

// The store of format version 1 kept in testdata/ (see testdata/README.md).
// TestStoreV1 must pass unchanged in every later syncfs. The store is
// written once, by TestWriteStoreV1 with SYNCFS_WRITE_TESTDATA=1, and is
// never written again to make a test pass.
const (
	storeV1Dir        = "../testdata/store-v1"
	storeV1Manifest   = "../testdata/store-v1.json"
	storeV1Passphrase = "syncfs format 1 test store"
)

// v1Entry is what the manifest says of one path.
type v1Entry struct {
	Mode   uint32            `json:"mode"`
	Size   int64             `json:"size"`
	SHA256 string            `json:"sha256,omitempty"`
	Target string            `json:"target,omitempty"`
	Xattrs map[string]string `json:"xattrs,omitempty"`
	Mtime  int64             `json:"mtime"`
	FileID string            `json:"file_id"`
}

// v1Manifest is testdata/store-v1.json.
type v1Manifest struct {
	Tree     map[string]v1Entry `json:"tree"`
	Snapshot struct {
		Name string             `json:"name"`
		Tree map[string]v1Entry `json:"tree"`
	} `json:"snapshot"`
	// Versions counts the versions of some paths.
	Versions map[string]int `json:"versions"`
}

// manifestOf lists a view's tree: every path with its type, mode, size,
// content hash, link target, xattrs and mtime.
func manifestOf(t *testing.T, v *View) map[string]v1Entry {
	t.Helper()
	out := map[string]v1Entry{}
	var walk func(dir uint64, prefix string)
	walk = func(dir uint64, prefix string) {
		ents, err := v.Index.ReadDir(dir, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := prefix + "/" + e.Name
			a := e.Attr
			me := v1Entry{Mode: a.Mode, Size: a.Size, Mtime: a.Mtime, FileID: a.FileID}
			names, err := v.Index.ListXattr(a.Ino)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				val, err := v.Index.GetXattr(a.Ino, n)
				if err != nil {
					t.Fatal(err)
				}
				if me.Xattrs == nil {
					me.Xattrs = map[string]string{}
				}
				me.Xattrs[n] = string(val)
			}
			switch a.Mode & syscall.S_IFMT {
			case syscall.S_IFDIR:
				walk(a.Ino, p)
			case syscall.S_IFLNK:
				if me.Target, err = v.Index.Readlink(a.Ino); err != nil {
					t.Fatal(err)
				}
			case syscall.S_IFREG:
				d := &device{idx: v.Index, cache: v.Cache, eng: v.Engine}
				b := d.readIno(t, a)
				sum := sha256.Sum256(b)
				me.SHA256 = hex.EncodeToString(sum[:])
			}
			out[p] = me
		}
	}
	walk(index.RootIno, "")
	return out
}

// readIno fetches and returns a regular file's content.
func (d *device) readIno(t *testing.T, a index.Attr) []byte {
	t.Helper()
	if a.Size == 0 {
		return nil
	}
	k := cache.Key{Ino: a.Ino, Cver: a.Cver}
	if a.State == index.StateAbsent {
		if _, err := d.cache.Ensure(testCtx(t), k, a.Size, 0, a.Size); err != nil {
			t.Fatalf("fetch inode %d: %v", a.Ino, err)
		}
	}
	b, err := os.ReadFile(d.cache.Path(k))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyStoreV1 copies the kept store to a temporary directory, so that no
// test can change it.
func copyStoreV1(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "store")
	err := filepath.WalkDir(storeV1Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(storeV1Dir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy the kept store: %v", err)
	}
	return dst
}

func diffManifests(t *testing.T, what string, want, got map[string]v1Entry) {
	t.Helper()
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		w, wok := want[p]
		g, gok := got[p]
		wb, _ := json.Marshal(w)
		gb, _ := json.Marshal(g)
		if wok != gok || string(wb) != string(gb) {
			t.Errorf("%s: %s: want %s (present %v), got %s (present %v)", what, p, wb, wok, gb, gok)
		}
	}
}

// TestStoreV1 opens the kept format-1 store and checks everything in it
// reads back as it was written: the tree, versions, a snapshot restored to
// a directory, and a full verify.
func TestStoreV1(t *testing.T) {
	mb, err := os.ReadFile(storeV1Manifest)
	if err != nil {
		t.Fatalf("the kept store's manifest: %v", err)
	}
	var want v1Manifest
	if err := json.Unmarshal(mb, &want); err != nil {
		t.Fatal(err)
	}
	dir := copyStoreV1(t)
	s, err := local.Open(dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(testCtx(t), s, []byte("not it")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	repo, err := Open(testCtx(t), s, []byte(storeV1Passphrase))
	if err != nil {
		t.Fatalf("open the format-1 store: %v", err)
	}
	if repo.Config.Format != 1 {
		t.Fatalf("config says format %d", repo.Config.Format)
	}
	v, err := OpenView(testCtx(t), repo, ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	diffManifests(t, "tree", want.Tree, manifestOf(t, v))

	for path, n := range want.Versions {
		dirAttr, name, err := ResolvePath(v.Index, path)
		if err != nil {
			t.Fatal(err)
		}
		h, err := v.Engine.History(testCtx(t), dirAttr.Ino, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Versions) != n {
			t.Errorf("%s: %d versions, want %d", path, len(h.Versions), n)
		}
		for _, pv := range h.Versions {
			if pv.Version.Deleted || pv.Pruned {
				continue
			}
			if _, err := v.Engine.WriteVersion(testCtx(t), pv.Version, discard{}); err != nil {
				t.Errorf("%s version %d: %v", path, pv.N, err)
			}
		}
	}

	snap, err := ResolveSnapshot(testCtx(t), repo, want.Snapshot.Name)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "restored")
	if _, err := RestoreSnapshot(testCtx(t), repo, snap, out, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	got := map[string]v1Entry{}
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == out {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		want := want.Snapshot.Tree["/"+rel]
		e := v1Entry{Mode: st.Mode, Mtime: st.Mtim.Nano(), FileID: want.FileID, Xattrs: userXattrs(t, p)}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			e.SHA256, e.Size = hex.EncodeToString(sum[:]), int64(len(b))
		case syscall.S_IFLNK:
			e.Target, _ = os.Readlink(p)
			e.Size = int64(len(e.Target))
		case syscall.S_IFDIR:
			e.Size = want.Size // a directory's size is the file system's own
		}
		got["/"+rel] = e
		return nil
	})
	diffManifests(t, "snapshot "+want.Snapshot.Name, want.Snapshot.Tree, got)

	rep, err := VerifyStore(testCtx(t), repo, StoreVerifyOptions{ReadData: true})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if _, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: -1, DryRun: true}); err != nil {
		t.Fatalf("prune --dry-run: %v", err)
	}
}

// userXattrs reads a restored file's user.* extended attributes.
func userXattrs(t *testing.T, p string) map[string]string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		t.Fatalf("listxattr %s: %v", p, err)
	}
	var out map[string]string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if !strings.HasPrefix(name, "user.") {
			continue
		}
		val := make([]byte, 4096)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", p, name, err)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = string(val[:m])
	}
	return out
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestWriteStoreV1 writes testdata/store-v1 and its manifest. It runs only
// with SYNCFS_WRITE_TESTDATA=1 and refuses to overwrite a kept store.
func TestWriteStoreV1(t *testing.T) {
	if os.Getenv("SYNCFS_WRITE_TESTDATA") != "1" {
		t.Skip("writes the kept format-1 store; set SYNCFS_WRITE_TESTDATA=1 (only for a new format)")
	}
	if _, err := os.Stat(storeV1Dir); err == nil {
		t.Fatalf("%s exists: the kept store is never written again", storeV1Dir)
	}
	s, err := local.Create(storeV1Dir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(testCtx(t), s, []byte(storeV1Passphrase), InitOptions{KDF: testKDF()}); err != nil {
		t.Fatal(err)
	}
	a := newDeviceWithPass(t, s, "1111111111111111", storeV1Passphrase)
	b := newDeviceWithPass(t, s, "2222222222222222", storeV1Passphrase)
	rng := rand.New(rand.NewSource(1))
	big := make([]byte, 1300<<10)
	rng.Read(big)
	flush := func(d *device) {
		t.Helper()
		if err := d.eng.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
	}
	pull := func(d *device) {
		t.Helper()
		if err := d.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	settle := func(ds ...*device) {
		t.Helper()
		for range 2 {
			for _, d := range ds {
				flush(d)
			}
			for _, d := range ds {
				pull(d)
			}
		}
		for _, d := range ds {
			flush(d)
		}
	}
	docs, err := a.idx.Create(index.RootIno, "docs", index.NewNode{Mode: syscall.S_IFDIR | 0o750})
	if err != nil {
		t.Fatal(err)
	}
	a.put(t, docs.Ino, "notes.txt", []byte("notes, version 1\n"))
	flush(a)
	a.put(t, docs.Ino, "notes.txt", []byte("notes, version 2\n"))
	bigA := a.put(t, index.RootIno, "big.bin", big)
	a.put(t, index.RootIno, "gone.txt", []byte("deleted later\n"))
	if _, err := a.idx.Create(index.RootIno, "link", index.NewNode{Mode: syscall.S_IFLNK | 0o777, Target: "docs/notes.txt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.idx.Link(bigA.Ino, docs.Ino, "big-link.bin"); err != nil {
		t.Fatal(err)
	}
	if err := a.idx.SetXattr(bigA.Ino, "user.color", []byte("blue"), 0); err != nil {
		t.Fatal(err)
	}
	mode := uint32(0o4755)
	if _, err := a.idx.SetAttr(bigA.Ino, index.SetAttrIn{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.idx.Create(index.RootIno, "fifo", index.NewNode{Mode: syscall.S_IFIFO | 0o644}); err != nil {
		t.Fatal(err)
	}
	a.put(t, index.RootIno, "empty", nil)
	flush(a)
	pull(b)
	// A conflict: both edit notes.txt before seeing the other's edit.
	a.put(t, docs.Ino, "notes.txt", []byte("notes, version 3 from A\n"))
	bdocs, err := b.idx.Lookup(index.RootIno, "docs")
	if err != nil {
		t.Fatal(err)
	}
	b.put(t, bdocs.Ino, "notes.txt", []byte("notes, version 3 from B\n"))
	flush(a)
	flush(b)
	pull(a)
	pull(b)
	if err := a.idx.Unlink(index.RootIno, "gone.txt"); err != nil {
		t.Fatal(err)
	}
	flush(a)
	pull(b)
	snap, err := CreateSnapshot(testCtx(t), a.eng.repo, a.idx, SnapshotOptions{Name: "first"})
	if err != nil {
		t.Fatal(err)
	}
	snapView, err := OpenView(testCtx(t), a.eng.repo, ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m v1Manifest
	m.Snapshot.Name = "first"
	m.Snapshot.Tree = manifestOf(t, snapView)
	snapView.Close()
	_ = snap
	// A chunk no batch names (an upload cut short): the prune below lists
	// and sweeps it, so the store holds a swept epoch.
	orphan := make([]byte, 300<<10)
	rng.Read(orphan)
	if err := a.eng.putChunk(testCtx(t), a.eng.repo.Keys.ChunkID(orphan), orphan); err != nil {
		t.Fatal(err)
	}
	settle(a, b)
	for _, d := range []*device{a, b} {
		if err := d.eng.SetIdle(testCtx(t), false); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Prune(testCtx(t), openRepoPass(t, s, storeV1Passphrase), PruneOptions{KeepWithin: 24 * time.Hour})
	if err != nil || rep.Swept == 0 || rep.Checkpoint == "" {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	// Batches after the checkpoint.
	a.put(t, index.RootIno, "after-checkpoint.txt", []byte("written after the checkpoint\n"))
	flush(a)
	pull(b)
	if err := b.idx.Rename(index.RootIno, "empty", bdocs.Ino, "empty-moved", 0); err != nil {
		t.Fatal(err)
	}
	flush(b)
	settle(a, b)
	for _, d := range []*device{a, b} {
		if err := d.eng.SetIdle(testCtx(t), false); err != nil {
			t.Fatal(err)
		}
	}
	v, err := OpenView(testCtx(t), a.eng.repo, ViewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m.Tree = manifestOf(t, v)
	m.Versions = map[string]int{}
	for _, p := range []string{"docs/notes.txt", "big.bin", "gone.txt"} {
		dirAttr, name, err := ResolvePath(v.Index, p)
		if err != nil {
			t.Fatal(err)
		}
		h, err := v.Engine.History(testCtx(t), dirAttr.Ino, name)
		if err != nil {
			t.Fatal(err)
		}
		m.Versions[p] = len(h.Versions)
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(storeV1Manifest, append(mb, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Println("wrote", storeV1Dir, "and", storeV1Manifest)
}

func openRepoPass(t *testing.T, s blobstore.Store, pass string) *Repo {
	t.Helper()
	repo, err := Open(testCtx(t), s, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}
