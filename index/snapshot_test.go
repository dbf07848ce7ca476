package index

import (
	"context"
	"syscall"
	"testing"
	"time"
)

func TestTreeReader(t *testing.T) {
	db := openTest(t, "dev1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o750)
	f := mustCreate(t, db, d.Ino, "f", syscall.S_IFREG|0o644)
	if _, err := db.Link(f.Ino, RootIno, "f-link"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetXattr(f.Ino, "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Create(RootIno, "l", NewNode{Mode: syscall.S_IFLNK | 0o777, Target: "d/f"}); err != nil {
		t.Fatal(err)
	}
	t.Run("unsynced files are marked", func(t *testing.T) {
		r, err := db.ReadTree(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		recs, err := r.DirRecords(d.Ino)
		if err != nil || len(recs) != 1 || !recs[0].Unsynced || recs[0].File.Content != nil {
			t.Fatalf("staged, never uploaded: %v %+v", err, recs)
		}
	})
	sealAll(t, db)
	r, err := db.ReadTree(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// A change after the read began is not seen.
	mustCreate(t, db, RootIno, "later", syscall.S_IFREG|0o644)
	t.Run("root", func(t *testing.T) {
		recs, err := r.DirRecords(RootIno)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]DirRecord{}
		for _, rec := range recs {
			names[string(rec.Name)] = rec
		}
		if len(names) != 3 {
			t.Fatalf("root entries: %+v", recs)
		}
		fl, l := names["f-link"], names["l"]
		if fl.File.ID != f.FileID || fl.File.Xattrs["user.k"] == nil || fl.File.Content == nil || fl.Stale || fl.Unsynced {
			t.Errorf("hard link record: %+v", fl)
		}
		if string(l.File.Target) != "d/f" || l.File.Content != nil {
			t.Errorf("symlink record: %+v", l)
		}
		if fl.Dentry.VV[db.Device()] == 0 || fl.Dentry.Dev != db.Device() {
			t.Errorf("entry version: %+v", fl.Dentry)
		}
	})
	t.Run("record and positions", func(t *testing.T) {
		root, err := r.Record(RootIno)
		if err != nil || root.ID != RootFileID || root.Mode&syscall.S_IFMT != syscall.S_IFDIR {
			t.Fatalf("root record: %v %+v", err, root)
		}
		pos, err := r.Positions()
		if err != nil || pos[db.Device()] == 0 {
			t.Fatalf("positions: %v %v", err, pos)
		}
	})
}
