package index

import (
	"errors"
	"slices"
	"syscall"
	"testing"
)

// residentTree makes /d/{x,y}, /d/sub/z and /top on db, all uploaded
// (Resident).
func residentTree(t *testing.T, db *DB) map[string]Attr {
	t.Helper()
	d := mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o755)
	sub := mustCreate(t, db, d.Ino, "sub", syscall.S_IFDIR|0o755)
	m := map[string]Attr{
		"d":       d,
		"d/sub":   sub,
		"d/x":     mustCreate(t, db, d.Ino, "x", syscall.S_IFREG|0o644),
		"d/y":     mustCreate(t, db, d.Ino, "y", syscall.S_IFREG|0o644),
		"d/sub/z": mustCreate(t, db, sub.Ino, "z", syscall.S_IFREG|0o644),
		"top":     mustCreate(t, db, RootIno, "top", syscall.S_IFREG|0o644),
	}
	sealAll(t, db)
	for name, a := range m {
		got, err := db.GetAttr(a.Ino)
		if err != nil {
			t.Fatal(err)
		}
		if a.IsRegular() && got.State != StateResident {
			t.Fatalf("%s: %s after upload", name, got.State)
		}
		m[name] = got
	}
	return m
}

func pinnedOf(t *testing.T, db *DB, ino uint64) bool {
	t.Helper()
	a, err := db.GetAttr(ino)
	if err != nil {
		t.Fatal(err)
	}
	return a.Pinned
}

func TestPinTree(t *testing.T) {
	db := openTest(t, "a")
	m := residentTree(t, db)

	t.Run("pin_recursive", func(t *testing.T) {
		res, err := db.SetPinned([]uint64{m["d"].Ino}, true)
		if err != nil {
			t.Fatal(err)
		}
		if res.Files != 3 || res.Dirs != 2 || res.FetchFiles != 0 {
			t.Fatalf("pin result %+v", res)
		}
		for _, n := range []string{"d", "d/sub", "d/x", "d/y", "d/sub/z"} {
			if !pinnedOf(t, db, m[n].Ino) {
				t.Errorf("%s not pinned", n)
			}
		}
		if pinnedOf(t, db, m["top"].Ino) {
			t.Error("top pinned, but it is outside the tree")
		}
	})

	t.Run("inherit_new_entries", func(t *testing.T) {
		nd := mustCreate(t, db, m["d/sub"].Ino, "new", syscall.S_IFDIR|0o755)
		nf := mustCreate(t, db, nd.Ino, "f", syscall.S_IFREG|0o644)
		if pinnedOf(t, db, nf.Ino) {
			t.Fatal("pinned before InheritPins ran")
		}
		n, err := db.InheritPins()
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 || !pinnedOf(t, db, nd.Ino) || !pinnedOf(t, db, nf.Ino) {
			t.Fatalf("inherited %d; dir %v file %v", n, pinnedOf(t, db, nd.Ino), pinnedOf(t, db, nf.Ino))
		}
		if n, _ := db.InheritPins(); n != 0 {
			t.Fatalf("second pass pinned %d more", n)
		}
	})

	t.Run("unpin_inside_pinned_tree_refused", func(t *testing.T) {
		_, err := db.SetPinned([]uint64{m["d/x"].Ino}, false)
		if !errors.Is(err, ErrPinInherited) {
			t.Fatalf("unpin of a file in a pinned directory: %v", err)
		}
		if !pinnedOf(t, db, m["d/x"].Ino) {
			t.Fatal("refused unpin changed the flag")
		}
	})

	t.Run("unpin_recursive", func(t *testing.T) {
		if _, err := db.SetPinned([]uint64{m["d"].Ino}, false); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"d", "d/sub", "d/x", "d/y", "d/sub/z"} {
			if pinnedOf(t, db, m[n].Ino) {
				t.Errorf("%s still pinned", n)
			}
		}
	})

	t.Run("files_under", func(t *testing.T) {
		refs, err := db.FilesUnder(t.Context(), []uint64{m["d"].Ino, m["top"].Ino})
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, r := range refs {
			paths = append(paths, r.Path)
		}
		want := []string{"", "sub", "sub/new", "sub/new/f", "sub/z", "x", "y", ""}
		if !slices.Equal(paths, want) {
			t.Fatalf("paths %q, want %q", paths, want)
		}
		if _, err := db.FilesUnder(t.Context(), []uint64{9999}); !errors.Is(err, ErrNotExist) {
			t.Fatalf("missing root: %v", err)
		}
	})
}

func TestEvictTransitions(t *testing.T) {
	db := openTest(t, "a")
	m := residentTree(t, db)

	t.Run("resident", func(t *testing.T) {
		x := m["d/x"]
		key, err := db.MarkAbsent(x.Ino)
		if err != nil {
			t.Fatal(err)
		}
		if key != (CacheKey{Ino: x.Ino, Cver: x.Cver}) {
			t.Fatalf("old key %+v, want cver %d", key, x.Cver)
		}
		a, _ := db.GetAttr(x.Ino)
		if a.State != StateAbsent || a.Cver != x.Cver+1 {
			t.Fatalf("after evict: %s cver %d", a.State, a.Cver)
		}
		if err := db.MarkResident(x.Ino, a.Cver); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("staged_refused", func(t *testing.T) {
		y := m["d/y"]
		if _, err := db.Open(y.Ino, true, false); err != nil {
			t.Fatal(err)
		}
		if err := db.Release(y.Ino, true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.MarkAbsent(y.Ino); !errors.Is(err, ErrIllegalTransition) {
			t.Fatalf("evict staged: %v", err)
		}
		if a, _ := db.GetAttr(y.Ino); a.State != StateStaged || a.Cver != y.Cver {
			t.Fatalf("refused evict changed the file: %s cver %d", a.State, a.Cver)
		}
	})

	t.Run("open_refused", func(t *testing.T) {
		z := m["d/sub/z"]
		if _, err := db.Open(z.Ino, false, false); err != nil {
			t.Fatal(err)
		}
		_, err := db.MarkAbsent(z.Ino)
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("evict open file: %v", err)
		}
		cands, _ := db.EvictionCandidates()
		for _, c := range cands {
			if c.Key.Ino == z.Ino {
				t.Fatal("open file is an eviction candidate")
			}
		}
		if err := db.Release(z.Ino, false); err != nil {
			t.Fatal(err)
		}
		if _, err := db.MarkAbsent(z.Ino); err != nil {
			t.Fatalf("evict after release: %v", err)
		}
	})

	t.Run("pinned_refused", func(t *testing.T) {
		top := m["top"]
		if _, err := db.SetPinned([]uint64{top.Ino}, true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.MarkAbsent(top.Ino); !errors.Is(err, ErrPinned) {
			t.Fatalf("evict pinned: %v", err)
		}
		cands, _ := db.EvictionCandidates()
		for _, c := range cands {
			if c.Key.Ino == top.Ino {
				t.Fatal("pinned file is an eviction candidate")
			}
			if c.State == StateStaged {
				t.Fatalf("staged file %d is an eviction candidate", c.Key.Ino)
			}
		}
	})
}

func TestPinnedAbsentFromOtherDevice(t *testing.T) {
	a := openTest(t, "a")
	b := openTest(t, "b")
	d := mustCreate(t, a, RootIno, "d", syscall.S_IFDIR|0o755)
	f := mustCreate(t, a, d.Ino, "f", syscall.S_IFREG|0o644)
	a.NoteWrite(f.Ino, 10, 1)
	a.Flush(f.Ino)
	batches := sealAll(t, a)
	for i, batch := range batches {
		if err := b.ApplyBatch("a", uint64(i+1), batch); err != nil {
			t.Fatal(err)
		}
	}
	bd, err := b.Lookup(RootIno, "d")
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.SetPinned([]uint64{bd.Ino}, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.FetchFiles != 1 || res.FetchBytes != 10 {
		t.Fatalf("pin result %+v", res)
	}
	// A file that arrives later in the pinned directory is pinned too.
	g := mustCreate(t, a, d.Ino, "g", syscall.S_IFREG|0o644)
	a.NoteWrite(g.Ino, 5, 2)
	a.Flush(g.Ino)
	for i, batch := range sealAll(t, a) {
		if err := b.ApplyBatch("a", uint64(len(batches)+i+1), batch); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.InheritPins(); err != nil {
		t.Fatal(err)
	}
	todo, err := b.PinnedAbsent(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(todo) != 2 {
		t.Fatalf("pinned absent: %+v", todo)
	}
	files, bytes, err := b.PinBacklog()
	if err != nil || files != 2 || bytes != 15 {
		t.Fatalf("backlog %d files %d bytes, %v", files, bytes, err)
	}
	files, bytes, err = b.PinBacklogUnder(t.Context(), []uint64{bd.Ino})
	if err != nil || files != 2 || bytes != 15 {
		t.Fatalf("backlog under d: %d files %d bytes, %v", files, bytes, err)
	}
	if files, _, err := b.PinBacklogUnder(t.Context(), []uint64{RootIno}); err != nil || files != 2 {
		t.Fatalf("backlog under the root: %d, %v", files, err)
	}
	for _, p := range todo {
		if err := b.MarkResident(p.Ino, p.Cver); err != nil {
			t.Fatal(err)
		}
	}
	if files, _, _ := b.PinBacklog(); files != 0 {
		t.Fatalf("backlog after fetch: %d", files)
	}
}
