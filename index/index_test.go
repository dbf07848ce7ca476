package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"
)

// testGroupWindow is the group commit window of the tests' indexes: a
// mount's, unless SYNCFS_INDEX_SINGLE_COMMIT is set (every change then
// commits on its own, as the command line's indexes do).
var testGroupWindow = func() time.Duration {
	if os.Getenv("SYNCFS_INDEX_SINGLE_COMMIT") != "" {
		return 0
	}
	return DefaultGroupWindow
}()

func openTest(t *testing.T, dev string) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{Device: dev, GroupWindow: testGroupWindow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustCreate(t *testing.T, db *DB, parent uint64, name string, mode uint32) Attr {
	t.Helper()
	a, err := db.Create(parent, name, NewNode{Mode: mode})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return a
}

func TestTransitionTable(t *testing.T) {
	all := []State{StateNone, StateAbsent, StateStaged, StateResident, StateTombstoned}
	allowed := map[[2]State]bool{
		{StateAbsent, StateAbsent}: true, {StateAbsent, StateResident}: true, {StateAbsent, StateStaged}: true, {StateAbsent, StateTombstoned}: true,
		{StateStaged, StateStaged}: true, {StateStaged, StateResident}: true, {StateStaged, StateTombstoned}: true,
		{StateResident, StateResident}: true, {StateResident, StateAbsent}: true, {StateResident, StateStaged}: true, {StateResident, StateTombstoned}: true,
		{StateTombstoned, StateTombstoned}: true,
		{StateNone, StateTombstoned}:       true,
	}
	for _, from := range all {
		for _, to := range all {
			err := Transition(from, to)
			if want := allowed[[2]State{from, to}]; want != (err == nil) {
				t.Errorf("Transition(%s, %s) = %v, want allowed=%v", from, to, err, want)
			}
			if err != nil && !errors.Is(err, ErrIllegalTransition) {
				t.Errorf("Transition(%s, %s) error %v does not wrap ErrIllegalTransition", from, to, err)
			}
		}
	}
}

func TestNamespace(t *testing.T) {
	db := openTest(t, "a")
	d := mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o755)
	f := mustCreate(t, db, d.Ino, "f", syscall.S_IFREG|0o644)
	if f.State != StateStaged || f.Nlink != 1 {
		t.Fatalf("new file: %+v", f)
	}
	if _, err := db.Create(d.Ino, "f", NewNode{Mode: syscall.S_IFREG}); !errors.Is(err, ErrExist) {
		t.Fatalf("create existing: %v", err)
	}
	root, _ := db.GetAttr(RootIno)
	if root.Nlink != 3 {
		t.Fatalf("root nlink %d, want 3", root.Nlink)
	}
	if _, err := db.Link(f.Ino, RootIno, "hard"); err != nil {
		t.Fatal(err)
	}
	if a, _ := db.GetAttr(f.Ino); a.Nlink != 2 {
		t.Fatalf("nlink after link %d", a.Nlink)
	}
	if _, err := db.Link(d.Ino, RootIno, "dl"); !errors.Is(err, ErrPermission) {
		t.Fatalf("link dir: %v", err)
	}
	if err := db.Rmdir(RootIno, "d"); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("rmdir non-empty: %v", err)
	}
	if err := db.Unlink(RootIno, "d"); !errors.Is(err, ErrIsDir) {
		t.Fatalf("unlink dir: %v", err)
	}
	if err := db.Rmdir(RootIno, "hard"); !errors.Is(err, ErrNotDir) {
		t.Fatalf("rmdir file: %v", err)
	}
	if err := db.Unlink(d.Ino, "f"); err != nil {
		t.Fatal(err)
	}
	if a, _ := db.GetAttr(f.Ino); a.Nlink != 1 {
		t.Fatalf("nlink after unlink %d", a.Nlink)
	}
	if err := db.Rmdir(RootIno, "d"); err != nil {
		t.Fatal(err)
	}
	if root, _ := db.GetAttr(RootIno); root.Nlink != 2 {
		t.Fatalf("root nlink %d, want 2", root.Nlink)
	}
	if _, err := db.Create(RootIno, string(make([]byte, 256)), NewNode{Mode: syscall.S_IFREG}); !errors.Is(err, ErrNameTooLong) {
		t.Fatalf("long name: %v", err)
	}
	s := mustCreate(t, db, RootIno, "s", syscall.S_IFLNK|0o777)
	_ = s
	if _, err := db.Create(RootIno, "l", NewNode{Mode: syscall.S_IFLNK | 0o777, Target: "/x/y"}); err != nil {
		t.Fatal(err)
	}
	l, _ := db.Lookup(RootIno, "l")
	if tg, err := db.Readlink(l.Ino); err != nil || tg != "/x/y" || l.Size != 4 {
		t.Fatalf("readlink %q %v size %d", tg, err, l.Size)
	}
	problems, err := db.Integrity(t.Context())
	if err != nil || len(problems) > 0 {
		t.Fatalf("integrity: %v %v", problems, err)
	}
}

func TestRename(t *testing.T) {
	db := openTest(t, "a")
	a := mustCreate(t, db, RootIno, "a", syscall.S_IFDIR|0o755)
	b := mustCreate(t, db, RootIno, "b", syscall.S_IFDIR|0o755)
	sub := mustCreate(t, db, a.Ino, "sub", syscall.S_IFDIR|0o755)
	f := mustCreate(t, db, a.Ino, "f", syscall.S_IFREG|0o644)
	g := mustCreate(t, db, b.Ino, "g", syscall.S_IFREG|0o644)
	cases := []struct {
		name   string
		op, np uint64
		on, nn string
		flags  RenameFlags
		want   error
	}{
		{"into itself", RootIno, a.Ino, "a", "x", 0, ErrInvalid},
		{"into own subdir", RootIno, sub.Ino, "a", "x", 0, ErrInvalid},
		{"dir over file", a.Ino, b.Ino, "sub", "g", 0, ErrNotDir},
		{"file over dir", b.Ino, a.Ino, "g", "sub", 0, ErrIsDir},
		{"over non-empty dir", RootIno, RootIno, "b", "a", 0, ErrNotEmpty},
		{"missing source", RootIno, RootIno, "nope", "x", 0, ErrNotExist},
		{"noreplace", a.Ino, b.Ino, "f", "g", RenameNoReplace, ErrExist},
		{"exchange missing", a.Ino, b.Ino, "f", "zz", RenameExchange, ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := db.Rename(c.op, c.on, c.np, c.nn, c.flags); !errors.Is(err, c.want) {
				t.Fatalf("got %v want %v", err, c.want)
			}
		})
	}
	// file over file: g is replaced and becomes Tombstoned.
	if err := db.Rename(a.Ino, "f", b.Ino, "g", 0); err != nil {
		t.Fatal(err)
	}
	if ga, _ := db.GetAttr(g.Ino); ga.Nlink != 0 || ga.State != StateTombstoned {
		// It may already be purged (no handles, never journaled).
		if _, err := db.GetAttr(g.Ino); !errors.Is(err, ErrNotExist) {
			t.Fatalf("replaced file: %+v", ga)
		}
	}
	if got, _ := db.Lookup(b.Ino, "g"); got.Ino != f.Ino {
		t.Fatalf("after rename g is %d want %d", got.Ino, f.Ino)
	}
	// dir across parents updates link counts.
	if err := db.Rename(a.Ino, "sub", b.Ino, "sub2", 0); err != nil {
		t.Fatal(err)
	}
	aa, _ := db.GetAttr(a.Ino)
	ba, _ := db.GetAttr(b.Ino)
	if aa.Nlink != 2 || ba.Nlink != 3 {
		t.Fatalf("nlink a=%d b=%d", aa.Nlink, ba.Nlink)
	}
	// exchange a file and a dir across parents.
	if _, err := db.Create(a.Ino, "h", NewNode{Mode: syscall.S_IFREG | 0o600}); err != nil {
		t.Fatal(err)
	}
	if err := db.Rename(a.Ino, "h", b.Ino, "sub2", RenameExchange); err != nil {
		t.Fatal(err)
	}
	aa, _ = db.GetAttr(a.Ino)
	ba, _ = db.GetAttr(b.Ino)
	if aa.Nlink != 3 || ba.Nlink != 2 {
		t.Fatalf("after exchange nlink a=%d b=%d", aa.Nlink, ba.Nlink)
	}
	problems, err := db.Integrity(t.Context())
	if err != nil || len(problems) > 0 {
		t.Fatalf("integrity: %v %v", problems, err)
	}
}

// sealAll drains the outbox of db into plain JSON batches, faking uploads of
// every staged file with a content of the right size.
func sealAll(t *testing.T, db *DB) [][]Record {
	t.Helper()
	var out [][]Record
	for i := 0; i < 100; i++ {
		ups, err := db.StagedUploads(100)
		if err != nil {
			t.Fatal(err)
		}
		m := map[uint64]Uploaded{}
		for _, u := range ups {
			m[u.Ino] = Uploaded{Wgen: u.Wgen, Content: Content{Size: u.Size, Inline: make([]byte, u.Size)}}
		}
		var got []Record
		b, err := db.SealBatch(1000, m, func(seq uint64, recs []Record) ([]byte, error) {
			got = recs
			return json.Marshal(recs)
		})
		if err != nil {
			t.Fatal(err)
		}
		if b.Seq == 0 {
			return out
		}
		if err := db.MarkSent(b.Seq); err != nil {
			t.Fatal(err)
		}
		out = append(out, got)
	}
	t.Fatal("outbox never drained")
	return nil
}

type treeEntry struct {
	Mode  uint32
	Size  int64
	Nlink uint32
	FID   string
}

func tree(t *testing.T, db *DB) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	var walk func(ino uint64, prefix string)
	walk = func(ino uint64, prefix string) {
		ents, err := db.ReadDir(ino, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := prefix + "/" + e.Name
			out[p] = treeEntry{e.Attr.Mode, e.Attr.Size, e.Attr.Nlink, e.Attr.FileID}
			if e.Attr.IsDir() {
				walk(e.Attr.Ino, p)
			}
		}
	}
	walk(RootIno, "")
	return out
}

func TestUploadAndApplyConverge(t *testing.T) {
	a := openTest(t, "a")
	b := openTest(t, "b")
	d := mustCreate(t, a, RootIno, "docs", syscall.S_IFDIR|0o755)
	f := mustCreate(t, a, d.Ino, "x.txt", syscall.S_IFREG|0o644)
	if _, err := a.Open(f.Ino, true, false); err != nil {
		t.Fatal(err)
	}
	a.NoteWrite(f.Ino, 100, 5)
	// Open for writing: the file must not be taken.
	if ups, _ := a.StagedUploads(10); len(ups) != 0 {
		t.Fatalf("open file offered for upload: %+v", ups)
	}
	if err := a.Release(f.Ino, true); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, a, RootIno, "empty", syscall.S_IFREG|0o600)
	if _, err := a.Create(RootIno, "ln", NewNode{Mode: syscall.S_IFLNK | 0o777, Target: "docs/x.txt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Link(f.Ino, RootIno, "hard"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetXattr(f.Ino, "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	for i, batch := range sealAll(t, a) {
		if err := b.ApplyBatch("a", uint64(i+1), batch); err != nil {
			t.Fatal(err)
		}
	}
	fa, _ := a.GetAttr(f.Ino)
	if fa.State != StateResident || fa.Size != 100 {
		t.Fatalf("after upload: %+v", fa)
	}
	ta, tb := tree(t, a), tree(t, b)
	if fmt.Sprint(ta) != fmt.Sprint(tb) {
		t.Fatalf("trees differ:\n a=%v\n b=%v", ta, tb)
	}
	bx, err := b.Lookup(RootIno, "hard")
	if err != nil || bx.State != StateAbsent {
		t.Fatalf("remote file: %+v %v", bx, err)
	}
	if v, err := b.GetXattr(bx.Ino, "user.k"); err != nil || string(v) != "v" {
		t.Fatalf("xattr on b: %q %v", v, err)
	}
	// Rename and delete on a, apply on b.
	if err := a.Rename(d.Ino, "x.txt", RootIno, "y.txt", 0); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlink(RootIno, "hard"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlink(RootIno, "empty"); err != nil {
		t.Fatal(err)
	}
	if err := a.Rmdir(RootIno, "docs"); err != nil {
		t.Fatal(err)
	}
	wm, _ := b.Watermark("a")
	for i, batch := range sealAll(t, a) {
		if err := b.ApplyBatch("a", wm+uint64(i+1), batch); err != nil {
			t.Fatal(err)
		}
	}
	ta, tb = tree(t, a), tree(t, b)
	if fmt.Sprint(ta) != fmt.Sprint(tb) {
		t.Fatalf("trees differ after rename/delete:\n a=%v\n b=%v", ta, tb)
	}
	names := make([]string, 0, len(tb))
	for k := range tb {
		names = append(names, k)
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[/ln /y.txt]" {
		t.Fatalf("tree on b: %v", names)
	}
	for _, db := range []*DB{a, b} {
		if p, err := db.Integrity(t.Context()); err != nil || len(p) > 0 {
			t.Fatalf("integrity: %v %v", p, err)
		}
	}
}

func TestWriteDuringUploadStaysStaged(t *testing.T) {
	db := openTest(t, "a")
	f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
	ups, _ := db.StagedUploads(10)
	if len(ups) != 1 {
		t.Fatalf("uploads %+v", ups)
	}
	u := ups[0]
	// A writer opens after the uploader read its copy.
	if _, err := db.Open(f.Ino, true, false); err != nil {
		t.Fatal(err)
	}
	db.NoteWrite(f.Ino, 10, 1)
	if err := db.Release(f.Ino, true); err != nil {
		t.Fatal(err)
	}
	b, err := db.SealBatch(100, map[uint64]Uploaded{f.Ino: {Wgen: u.Wgen, Content: Content{Size: 0}}}, func(seq uint64, recs []Record) ([]byte, error) {
		for _, r := range recs {
			if r.File != nil && r.File.ID == f.FileID {
				t.Errorf("stale copy of the file was journaled")
			}
		}
		return []byte("x"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.Seq != 0 {
		if err := db.MarkSent(b.Seq); err != nil {
			t.Fatal(err)
		}
	}
	if a, _ := db.GetAttr(f.Ino); a.State != StateStaged {
		t.Fatalf("state %s, want staged", a.State)
	}
	if ups, _ := db.StagedUploads(10); len(ups) != 1 || ups[0].Wgen == u.Wgen {
		t.Fatalf("file not offered again with a new generation: %+v", ups)
	}
}

func TestUnsentJournalSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{Device: "a"})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, RootIno, "d", syscall.S_IFDIR|0o755)
	b, err := db.SealBatch(100, nil, func(seq uint64, recs []Record) ([]byte, error) { return []byte("sealed-1"), nil })
	if err != nil || b.Seq != 1 {
		t.Fatalf("seal: %+v %v", b, err)
	}
	db.Close()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Device() != "a" {
		t.Fatalf("device %q", db.Device())
	}
	un, err := db.UnsentJournal()
	if err != nil || len(un) != 1 || string(un[0].Body) != "sealed-1" {
		t.Fatalf("unsent %+v %v", un, err)
	}
	if err := db.MarkSent(1); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, RootIno, "e", syscall.S_IFDIR|0o755)
	b, err = db.SealBatch(100, nil, func(seq uint64, recs []Record) ([]byte, error) { return []byte("sealed-2"), nil })
	if err != nil || b.Seq != 2 {
		t.Fatalf("second seal: %+v %v", b, err)
	}
}

func TestUnlinkedOpenFileSurvivesUntilRelease(t *testing.T) {
	db := openTest(t, "a")
	f := mustCreate(t, db, RootIno, "f", syscall.S_IFREG|0o644)
	sealAll(t, db)
	if _, err := db.Open(f.Ino, false, false); err != nil {
		t.Fatal(err)
	}
	if err := db.Unlink(RootIno, "f"); err != nil {
		t.Fatal(err)
	}
	sealAll(t, db)
	if a, err := db.GetAttr(f.Ino); err != nil || a.State != StateTombstoned {
		t.Fatalf("open unlinked file: %+v %v", a, err)
	}
	if err := db.Release(f.Ino, false); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetAttr(f.Ino); !errors.Is(err, ErrNotExist) {
		t.Fatalf("purged file still there: %v", err)
	}
	tr, _ := db.Trash(10)
	if len(tr) != 1 || tr[0].Ino != f.Ino {
		t.Fatalf("trash %+v", tr)
	}
}

func TestAbsentNeedsFetchBeforeWrite(t *testing.T) {
	a := openTest(t, "a")
	b := openTest(t, "b")
	f := mustCreate(t, a, RootIno, "f", syscall.S_IFREG|0o644)
	a.NoteWrite(f.Ino, 10, 1)
	a.Flush(f.Ino)
	for i, batch := range sealAll(t, a) {
		b.ApplyBatch("a", uint64(i+1), batch)
	}
	bf, _ := b.Lookup(RootIno, "f")
	if _, err := b.Open(bf.Ino, true, false); !errors.Is(err, ErrNeedsFetch) {
		t.Fatalf("open absent for write: %v", err)
	}
	if err := b.MarkResident(bf.Ino, bf.Cver); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(bf.Ino, true, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.MarkAbsent(bf.Ino); !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("evict staged: %v", err)
	}
}
