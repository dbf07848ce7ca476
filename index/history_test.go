package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// writeFile makes the content of ino size bytes long, as write(2) calls
// through the mount do (open for writing, truncating, then release).
func writeFile(t *testing.T, db *DB, ino uint64, size int64) {
	t.Helper()
	if _, err := db.Open(ino, true, true); err != nil {
		t.Fatal(err)
	}
	db.NoteWrite(ino, size, db.now().UnixNano())
	if err := db.Release(ino, true); err != nil {
		t.Fatal(err)
	}
}

// syncTo seals everything from into batches and applies them to each of to,
// returning the records sent.
func syncTo(t *testing.T, from *DB, to ...*DB) []Record {
	t.Helper()
	var all []Record
	for _, batch := range sealAll(t, from) {
		all = append(all, batch...)
		for _, db := range to {
			wm, err := db.Watermark(from.Device())
			if err != nil {
				t.Fatal(err)
			}
			if err := db.ApplyBatch(from.Device(), wm+1, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	return all
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func mustVersions(t *testing.T, db *DB, fid string) []Version {
	t.Helper()
	vs, err := db.Versions(fid)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestHistory(t *testing.T) {
	a := openTest(t, "a")
	b := openTest(t, "b")
	f := mustCreate(t, a, RootIno, "f", syscall.S_IFREG|0o644)
	writeFile(t, a, f.Ino, 5)
	syncTo(t, a, b)
	writeFile(t, a, f.Ino, 7)
	syncTo(t, a, b)

	t.Run("versions", func(t *testing.T) {
		for _, db := range []*DB{a, b} {
			vs := mustVersions(t, db, f.FileID)
			if len(vs) != 2 {
				t.Fatalf("%s: %d versions: %+v", db.Device(), len(vs), vs)
			}
			for i, v := range vs {
				if v.N != i+1 || v.Author != "a" || v.Deleted || v.Content == nil || string(v.Name) != "f" || v.Parent != RootFileID {
					t.Errorf("%s: version %d: %+v", db.Device(), i+1, v)
				}
			}
			if vs[0].Size != 5 || vs[1].Size != 7 || vs[0].HLC >= vs[1].HLC {
				t.Errorf("%s: sizes/times %d@%d %d@%d", db.Device(), vs[0].Size, vs[0].HLC, vs[1].Size, vs[1].HLC)
			}
			if vs[0].Current || !vs[1].Current {
				t.Errorf("%s: current is not the newest: %+v", db.Device(), vs)
			}
		}
		if a.Device() == b.Device() || jsonOf(mustVersions(t, a, f.FileID)) != jsonOf(mustVersions(t, b, f.FileID)) {
			t.Errorf("devices see different histories:\n%+v\n%+v", mustVersions(t, a, f.FileID), mustVersions(t, b, f.FileID))
		}
	})

	t.Run("restore", func(t *testing.T) {
		v1 := mustVersions(t, a, f.FileID)[0]
		got, err := a.RestoreContent(f.Ino, *v1.Content)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != StateAbsent || got.Size != 5 {
			t.Fatalf("after restore: %+v", got)
		}
		recs := syncTo(t, a, b)
		var rec *FileRecord
		for _, r := range recs {
			if r.File != nil && r.File.ID == f.FileID {
				rec = r.File
			}
		}
		if rec == nil || rec.Content == nil || fmt.Sprint(*rec.Content) != fmt.Sprint(*v1.Content) {
			t.Fatalf("sealed record %+v, want content %+v", rec, v1.Content)
		}
		if after, _ := a.GetAttr(f.Ino); after.State != StateAbsent {
			t.Errorf("restored file became %s after upload; its content was never local", after.State)
		}
		bf, err := b.Lookup(RootIno, "f")
		if err != nil {
			t.Fatal(err)
		}
		c, err := b.ContentOf(bf.Ino, bf.Cver)
		if err != nil || fmt.Sprint(c) != fmt.Sprint(*v1.Content) || bf.Size != 5 {
			t.Fatalf("b holds %+v (size %d, %v), want %+v", c, bf.Size, err, *v1.Content)
		}
		vs := mustVersions(t, b, f.FileID)
		if len(vs) != 3 || !vs[2].Current || vs[2].Size != 5 {
			t.Fatalf("b's versions after restore: %+v", vs)
		}
	})

	t.Run("staged_refused", func(t *testing.T) {
		if _, err := a.Open(f.Ino, true, true); err != nil {
			t.Fatal(err)
		}
		v1 := mustVersions(t, a, f.FileID)[0]
		if _, err := a.RestoreContent(f.Ino, *v1.Content); !errors.Is(err, ErrStagedContent) {
			t.Fatalf("restore over a staged file: %v", err)
		}
		if err := a.Release(f.Ino, true); err != nil {
			t.Fatal(err)
		}
		syncTo(t, a, b)
	})

	t.Run("deleted", func(t *testing.T) {
		if err := a.Unlink(RootIno, "f"); err != nil {
			t.Fatal(err)
		}
		syncTo(t, a, b)
		for _, db := range []*DB{a, b} {
			ds, err := db.DeletedUnder(RootFileID)
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 || ds[0].FileID != f.FileID || ds[0].Name != "f" || !ds[0].Deleted.Deleted || ds[0].Last.Deleted || ds[0].Last.Content == nil {
				t.Fatalf("%s: deleted files %+v", db.Device(), ds)
			}
		}
		ds, _ := b.DeletedUnder(RootFileID)
		got, err := b.CreateFromContent(RootIno, "f", NewNode{Mode: 0o640}, *ds[0].Last.Content, 42)
		if err != nil {
			t.Fatal(err)
		}
		if got.FileID == f.FileID || got.State != StateAbsent || got.Mtime != 42 || got.Mode != syscall.S_IFREG|0o640 {
			t.Fatalf("recreated: %+v", got)
		}
		if _, err := b.CreateFromContent(RootIno, "f", NewNode{Mode: 0o640}, *ds[0].Last.Content, 0); !errors.Is(err, ErrExist) {
			t.Fatalf("create over an existing name: %v", err)
		}
		syncTo(t, b, a)
		af, err := a.Lookup(RootIno, "f")
		if err != nil {
			t.Fatal(err)
		}
		c, err := a.ContentOf(af.Ino, af.Cver)
		if err != nil || fmt.Sprint(c) != fmt.Sprint(*ds[0].Last.Content) {
			t.Fatalf("a holds %+v (%v)", c, err)
		}
		if ds, _ := a.DeletedUnder(RootFileID); len(ds) != 1 {
			t.Fatalf("the old file is still deleted: %+v", ds)
		}
	})

	t.Run("conflict", func(t *testing.T) {
		g := mustCreate(t, a, RootIno, "g", syscall.S_IFREG|0o644)
		writeFile(t, a, g.Ino, 3)
		syncTo(t, a, b)
		writeFile(t, a, g.Ino, 4)
		bg, err := b.Lookup(RootIno, "g")
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, b, bg.Ino, 9) // later: b's version wins
		syncTo(t, b)
		syncTo(t, a, b)
		vs := mustVersions(t, b, g.FileID)
		if len(vs) != 3 || !vs[1].Concurrent || vs[1].Author != "a" || !vs[2].Current || vs[2].Author != "b" {
			t.Fatalf("versions on b after a conflict: %+v", vs)
		}
	})
}
