package resolver

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/syncfs/syncfs/index"
)

func mustHistory(t *testing.T, d *device, name string) PathHistory {
	t.Helper()
	h, err := d.eng.History(testCtx(t), index.RootIno, name)
	if err != nil {
		t.Fatalf("history of %s: %v", name, err)
	}
	return h
}

func mustPick(t *testing.T, h PathHistory, s Selector) PathVersion {
	t.Helper()
	v, err := h.Pick(s)
	if err != nil {
		t.Fatalf("pick %+v: %v", s, err)
	}
	return v
}

func versionBytes(t *testing.T, d *device, v index.Version) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := d.eng.WriteVersion(testCtx(t), v, &buf); err != nil {
		t.Fatalf("write version: %v", err)
	}
	return buf.Bytes()
}

func TestVersions(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "aaaa")
	b := newDevice(t, s, "bbbb")
	v1, v2 := randBytes(1, 300<<10), []byte("short second version")
	a.writeFile(t, "notes", v1)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	a.writeFile(t, "notes", v2)
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}

	t.Run("list", func(t *testing.T) {
		h := mustHistory(t, a, "notes")
		if len(h.Versions) != 2 || h.Versions[0].Size != int64(len(v1)) || h.Versions[1].Note != "current" || h.Versions[1].Device != "aaaa" {
			t.Fatalf("history: %+v", h)
		}
		if got := versionBytes(t, a, h.Versions[0].Version); !bytes.Equal(got, v1) {
			t.Fatalf("version 1 has %d bytes, want %d", len(got), len(v1))
		}
		if got := versionBytes(t, a, h.Versions[1].Version); !bytes.Equal(got, v2) {
			t.Fatalf("version 2 is %q", got)
		}
	})

	t.Run("pick", func(t *testing.T) {
		h := mustHistory(t, a, "notes")
		first, second := h.Versions[0], h.Versions[1]
		if v := mustPick(t, h, Selector{}); v.N != 2 {
			t.Errorf("default pick: %d", v.N)
		}
		if v := mustPick(t, h, Selector{At: second.Time.Add(-time.Nanosecond)}); v.N != 1 {
			t.Errorf("pick just before version 2: %d", v.N)
		}
		if v := mustPick(t, h, Selector{At: second.Time}); v.N != 2 {
			t.Errorf("pick at version 2's time: %d", v.N)
		}
		for _, s := range []Selector{{Version: 3}, {Version: -1}, {At: first.Time.Add(-time.Second)}, {Version: 1, At: second.Time}} {
			if _, err := h.Pick(s); !errors.Is(err, ErrNoSuchVersion) {
				t.Errorf("pick %+v: %v", s, err)
			}
		}
	})

	t.Run("restore_over", func(t *testing.T) {
		h := mustHistory(t, a, "notes")
		f, _ := a.idx.Lookup(index.RootIno, "notes")
		got, err := a.eng.RestoreOver(testCtx(t), f.Ino, h.Versions[0].Version)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != index.StateAbsent || got.Size != int64(len(v1)) {
			t.Fatalf("after restore: %+v", got)
		}
		if data := a.readFile(t, "notes"); !bytes.Equal(data, v1) {
			t.Fatalf("restored file has %d bytes", len(data))
		}
		if err := a.eng.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
		if err := b.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if data := b.readFile(t, "notes"); !bytes.Equal(data, v1) {
			t.Fatalf("b reads %d bytes after the restore", len(data))
		}
		hb := mustHistory(t, b, "notes")
		if len(hb.Versions) != 3 || hb.Versions[2].Note != "current" || hb.Versions[2].Size != int64(len(v1)) {
			t.Fatalf("b's history after the restore: %+v", hb)
		}
		// Undo: the version before the restore comes back.
		if _, err := b.eng.RestoreOver(testCtx(t), mustLookup(t, b, "notes").Ino, hb.Versions[1].Version); err != nil {
			t.Fatal(err)
		}
		if data := b.readFile(t, "notes"); !bytes.Equal(data, v2) {
			t.Fatalf("undone restore reads %q", data)
		}
	})

	t.Run("staged_flushed_first", func(t *testing.T) {
		b.writeFile(t, "notes", []byte("unsynced edit"))
		h := mustHistory(t, b, "notes")
		if !h.Unsynced {
			t.Errorf("history does not say the file has unsynced changes")
		}
		if _, err := b.eng.RestoreOver(testCtx(t), mustLookup(t, b, "notes").Ino, h.Versions[0].Version); err != nil {
			t.Fatal(err)
		}
		h = mustHistory(t, b, "notes")
		if n := len(h.Versions); n != 4 || h.Versions[n-1].Size != int64(len("unsynced edit")) {
			t.Fatalf("the unsynced edit is not a version before the restore: %+v", h.Versions)
		}
		if err := b.eng.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
		h = mustHistory(t, b, "notes")
		if n := len(h.Versions); n != 5 || h.Versions[n-1].Size != int64(len(v1)) || h.Versions[n-1].Note != "current" {
			t.Fatalf("history after the restore is synced: %+v", h.Versions)
		}
	})

	t.Run("deleted", func(t *testing.T) {
		if err := b.idx.Unlink(index.RootIno, "notes"); err != nil {
			t.Fatal(err)
		}
		if err := b.eng.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
		if err := a.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		ds, err := a.eng.Deleted(index.RootIno)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 1 || ds[0].Name != "notes" || ds[0].Device != "bbbb" || ds[0].Size != int64(len(v1)) {
			t.Fatalf("deleted: %+v", ds)
		}
		h := mustHistory(t, a, "notes")
		last := h.Versions[len(h.Versions)-1]
		if h.FileID != "" || !last.Version.Deleted || last.Note != "deleted, earlier file" {
			t.Fatalf("history of a deleted file: %+v", h)
		}
		if _, err := h.Pick(Selector{Version: last.N}); !errors.Is(err, ErrDeletedVersion) {
			t.Fatalf("pick the deletion: %v", err)
		}
		v := mustPick(t, h, Selector{})
		if _, err := a.eng.RestoreAsNew(testCtx(t), index.RootIno, "notes", v.Version, index.NewNode{Mode: 0o600}); err != nil {
			t.Fatal(err)
		}
		if data := a.readFile(t, "notes"); !bytes.Equal(data, v1) {
			t.Fatalf("restored deleted file has %d bytes", len(data))
		}
		if ds, _ := a.eng.Deleted(index.RootIno); len(ds) != 0 {
			t.Fatalf("a restored name is still listed as deleted: %+v", ds)
		}
		if err := a.eng.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
		h = mustHistory(t, a, "notes")
		if h.Versions[len(h.Versions)-1].Note != "current" || !strings.Contains(h.Versions[0].Note, "earlier file") {
			t.Fatalf("history after restoring a deleted file: %+v", h.Versions)
		}
	})

	t.Run("view", func(t *testing.T) {
		repo, err := Open(testCtx(t), s, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := OpenView(testCtx(t), repo, ViewOptions{Device: "cccc"})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		dir, name, err := ResolvePath(v.Index, "/notes")
		if err != nil || dir.Ino != index.RootIno || name != "notes" {
			t.Fatalf("resolve: %+v %q %v", dir, name, err)
		}
		h, err := v.Engine.History(testCtx(t), dir.Ino, name)
		if err != nil {
			t.Fatal(err)
		}
		if want := mustHistory(t, a, "notes"); len(h.Versions) != len(want.Versions) {
			t.Fatalf("the view has %d versions, a has %d", len(h.Versions), len(want.Versions))
		}
		f, err := v.Index.Lookup(dir.Ino, name)
		if err != nil {
			t.Fatal(err)
		}
		second := h.Versions[1].Version
		if _, err := v.Engine.RestoreOver(testCtx(t), f.Ino, second); err != nil {
			t.Fatal(err)
		}
		if err := v.Engine.RegisterDevice(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if err := v.Engine.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
		if err := a.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if data := a.readFile(t, "notes"); !bytes.Equal(data, v2) {
			t.Fatalf("a reads %q after the view's restore", data)
		}
	})

	t.Run("save_file", func(t *testing.T) {
		h := mustHistory(t, a, "notes")
		dst := filepath.Join(t.TempDir(), "out")
		write := func(force bool) error {
			return SaveFile(dst, 0o640, h.Versions[0].Time, force, func(w io.Writer) (int64, error) {
				return a.eng.WriteVersion(testCtx(t), h.Versions[0].Version, w)
			})
		}
		if err := write(false); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(dst); !bytes.Equal(got, v1) {
			t.Fatalf("saved %d bytes", len(got))
		}
		if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(h.Versions[0].Time) {
			t.Errorf("saved file: mode %v, mtime %v", fi.Mode(), fi.ModTime())
		}
		if err := write(false); !errors.Is(err, os.ErrExist) {
			t.Fatalf("save over an existing file: %v", err)
		}
		if err := write(true); err != nil {
			t.Fatalf("save with force: %v", err)
		}
		if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
			t.Fatalf("temporary files left: %v", ents)
		}
	})

	t.Run("pruned", func(t *testing.T) {
		repo, err := Open(testCtx(t), s, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Prune(testCtx(t), repo, PruneOptions{KeepWithin: 0}); err != nil {
			t.Fatal(err)
		}
		h := mustHistory(t, a, "notes")
		first := h.Versions[0]
		if !first.Pruned || !strings.Contains(first.Note, "pruned") || h.Versions[len(h.Versions)-1].Pruned {
			t.Fatalf("after a prune keeping no old versions: %+v", h.Versions)
		}
		if _, err := a.eng.RestoreOver(testCtx(t), mustLookup(t, a, "notes").Ino, first.Version); !errors.Is(err, ErrChunkGone) {
			t.Fatalf("restore of a pruned version: %v", err)
		}
	})

	t.Run("chunk_gone", func(t *testing.T) {
		h := mustHistory(t, a, "notes")
		ref := h.Versions[0].Version.Content.Chunks[0]
		if err := s.Delete(testCtx(t), chunkName(ref.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.eng.WriteVersion(testCtx(t), h.Versions[0].Version, io.Discard); !errors.Is(err, ErrChunkGone) {
			t.Fatalf("write a pruned version: %v", err)
		}
	})

	t.Run("not_regular", func(t *testing.T) {
		if _, err := a.idx.Create(index.RootIno, "dir", index.NewNode{Mode: syscall.S_IFDIR | 0o755}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.eng.History(testCtx(t), index.RootIno, "dir"); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("history of a directory: %v", err)
		}
		if _, err := a.eng.History(testCtx(t), index.RootIno, "never"); !errors.Is(err, index.ErrNotExist) {
			t.Fatalf("history of nothing: %v", err)
		}
	})
}

func mustLookup(t *testing.T, d *device, name string) index.Attr {
	t.Helper()
	a, err := d.idx.Lookup(index.RootIno, name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
