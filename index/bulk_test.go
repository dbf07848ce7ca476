package index

import (
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openReplayable opens an index whose file IDs and clock repeat from run
// to run, so that two indexes given the same changes hold the same rows.
func openReplayable(t *testing.T) *DB {
	t.Helper()
	var tick int64
	now := func() time.Time { tick++; return time.Unix(1700000000, tick) }
	db, err := Open(filepath.Join(t.TempDir(), "index.db"), Options{Device: "a", Now: now, Rand: rand.New(rand.NewSource(1))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dumpTables returns every row of the tables a create writes, as text.
func dumpTables(t *testing.T, db *DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		"SELECT ino, file_id, mode, nlink, size, mtime, ctime, state, vv, hlc, author, home_parent, hex(home_name), journaled FROM inodes ORDER BY ino",
		"SELECT parent, hex(name), ino FROM dentries ORDER BY id",
		"SELECT parent_fid, hex(name), vv, hlc, author, child FROM dentry_versions ORDER BY parent_fid, name",
		"SELECT key, gen, ino, parent, parent_fid, hex(name) FROM outbox ORDER BY gen",
	} {
		rows, err := db.settled().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}

func TestCreateBatchIsCreateInOneTransaction(t *testing.T) {
	one, batch := openReplayable(t), openReplayable(t)
	dirs := []NewEntry{
		{Parent: RootIno, Name: "d0", Node: NewNode{Mode: syscall.S_IFDIR | 0o755}},
		{Parent: RootIno, Name: "d1", Node: NewNode{Mode: syscall.S_IFDIR | 0o755}},
	}
	var files []NewEntry
	for i := range 6 {
		// Inodes 2 and 3 are the directories above.
		files = append(files, NewEntry{Parent: uint64(2 + i%2), Name: fmt.Sprintf("f%d", i), Node: NewNode{Mode: syscall.S_IFREG | 0o644}})
	}
	for _, step := range [][]NewEntry{dirs, files} {
		for _, e := range step {
			if _, err := one.Create(e.Parent, e.Name, e.Node); err != nil {
				t.Fatal(err)
			}
		}
		got, err := batch.CreateBatch(step)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(step) {
			t.Fatalf("CreateBatch returned %d attributes for %d entries", len(got), len(step))
		}
		for i, a := range got {
			want, err := batch.Lookup(step[i].Parent, step[i].Name)
			if err != nil || a.Ino != want.Ino || a.Mode != want.Mode {
				t.Errorf("entry %d: returned %+v, lookup %+v (%v)", i, a, want, err)
			}
		}
	}
	if a, b := dumpTables(t, one), dumpTables(t, batch); a != b {
		t.Errorf("one Create at a time left\n%s\nCreateBatch left\n%s", a, b)
	}
}

func TestCreateBatchRollsBackOnFailure(t *testing.T) {
	db := openTest(t, "a")
	mustCreate(t, db, RootIno, "taken", syscall.S_IFREG|0o644)
	before := dumpTables(t, db)
	_, err := db.CreateBatch([]NewEntry{
		{Parent: RootIno, Name: "new", Node: NewNode{Mode: syscall.S_IFREG | 0o644}},
		{Parent: RootIno, Name: "taken", Node: NewNode{Mode: syscall.S_IFREG | 0o644}},
	})
	if !errors.Is(err, ErrExist) {
		t.Fatalf("batch with a taken name: %v, want ErrExist", err)
	}
	if after := dumpTables(t, db); after != before {
		t.Errorf("a failed batch changed the index:\nbefore\n%s\nafter\n%s", before, after)
	}
	if _, err := db.CreateBatch([]NewEntry{{Parent: RootIno, Name: "a/b"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("batch with a bad name: %v, want ErrInvalid", err)
	}
}
