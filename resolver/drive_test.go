package resolver

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// TestDrivenUploadAndCheckpoint loads files the way the benchmark's bulk
// loader does (CreateBatch, then UploadRound until there is no more work)
// and checks that the store then holds them for another device, and that
// CheckpointIfDue writes a checkpoint once enough batches are past the
// newest.
func TestDrivenUploadAndCheckpoint(t *testing.T) {
	s := newStore(t)
	if _, err := Init(testCtx(t), s, []byte("pw"), InitOptions{KDF: testKDF()}); err != nil {
		t.Fatal(err)
	}
	repo, err := Open(testCtx(t), s, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	idx, err := index.Open(filepath.Join(dir, "index.db"), index.Options{Device: "aaaa"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	c, err := cache.New(filepath.Join(dir, "cache"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Far more batches than this test makes: no checkpoint is due yet.
	e := New(repo, idx, c, Options{CheckpointEvery: 1000})
	if err := e.RegisterDevice(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	dirs, err := idx.CreateBatch([]index.NewEntry{{Parent: index.RootIno, Name: "d", Node: index.NewNode{Mode: syscall.S_IFDIR | 0o755}}})
	if err != nil {
		t.Fatal(err)
	}
	const files = 300 // several uploader rounds' worth
	var entries []index.NewEntry
	for i := range files {
		entries = append(entries, index.NewEntry{Parent: dirs[0].Ino, Name: fmt.Sprintf("f%03d", i), Node: index.NewNode{Mode: syscall.S_IFREG | 0o644}})
	}
	if _, err := idx.CreateBatch(entries); err != nil {
		t.Fatal(err)
	}
	rounds := 0
	for more := true; more; rounds++ {
		if rounds > 4*files {
			t.Fatalf("the uploader still finds work after %d rounds", rounds)
		}
		if more, err = e.UploadRound(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := idx.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.Unsent != 0 || st.Files[index.StateResident] != files {
		t.Fatalf("after the rounds: %d pending, %d unsent, %d Resident files, want 0, 0, %d", st.Pending, st.Unsent, st.Files[index.StateResident], files)
	}
	if err := e.CheckpointIfDue(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ids, err := listCheckpoints(testCtx(t), repo); err != nil || len(ids) != 0 {
		t.Fatalf("checkpoints before one is due: %v (%v)", ids, err)
	}

	b := newDevice(t, s, "bbbb")
	if err := b.eng.Pull(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	d, err := b.idx.Lookup(index.RootIno, "d")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := b.idx.ReadDir(d.Ino, 0, 2*files)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != files {
		t.Fatalf("the second device lists %d files, want %d", len(ents), files)
	}

	e.opts.CheckpointEvery = 1
	if err := e.CheckpointIfDue(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ids, err := listCheckpoints(testCtx(t), repo)
	if err != nil || len(ids) != 1 {
		t.Fatalf("checkpoints once one is due: %v (%v), want one", ids, err)
	}
	rec, err := readCheckpointRecord(testCtx(t), repo, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	// The files, the directory and the root.
	if rec.Files != files+2 {
		t.Errorf("checkpoint holds %d files, want %d", rec.Files, files+2)
	}
}
