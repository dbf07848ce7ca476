package resolver

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/index"
)

// TestCheckpointReplacesJournals prunes a store so that a checkpoint is
// written and the batches it covers deleted, then checks that a new
// device and one that was behind both reach the current tree (and the
// versions still inside retention) from the checkpoint, and that batches
// written after it still arrive.
func TestCheckpointReplacesJournals(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "aaaa")
	behind := newDevice(t, s, "cccc")
	v1, v2 := randBytes(1, 2<<20), randBytes(2, 2<<20)
	a.writeFile(t, "f", v1)
	a.writeFile(t, "gone", []byte("deleted later"))
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := behind.eng.Pull(testCtx(t)); err != nil { // sees batch 1 only
		t.Fatal(err)
	}
	a.writeFile(t, "f", v2)
	if err := a.idx.Unlink(index.RootIno, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.Flush(testCtx(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.eng.SetIdle(testCtx(t), false); err != nil {
		t.Fatal(err)
	}
	if err := behind.eng.SetIdle(testCtx(t), false); err != nil {
		t.Fatal(err)
	}
	rep, err := Prune(testCtx(t), openRepo(t, s), PruneOptions{KeepWithin: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoint == "" || rep.JournalsDeleted < 2 {
		t.Fatalf("no checkpoint, or batches not deleted: %+v", rep)
	}
	if left := journalCount(t, s); left != 0 {
		t.Fatalf("%d batches left after the checkpoint covered them all", left)
	}

	t.Run("a new device starts from the checkpoint", func(t *testing.T) {
		b := newDevice(t, s, "bbbb")
		if err := b.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if got := b.readFile(t, "f"); !bytes.Equal(got, v2) {
			t.Fatal("current content differs")
		}
		if _, err := b.idx.Lookup(index.RootIno, "gone"); err == nil {
			t.Fatal("a deleted file came back")
		}
		f, _ := b.idx.Lookup(index.RootIno, "f")
		vers, err := b.idx.Versions(f.FileID)
		if err != nil || len(vers) < 2 {
			t.Fatalf("history from the checkpoint: %d versions, %v", len(vers), err)
		}
	})
	t.Run("a device that was behind catches up", func(t *testing.T) {
		if err := behind.eng.Pull(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if got := behind.readFile(t, "f"); !bytes.Equal(got, v2) {
			t.Fatal("current content differs")
		}
		if _, err := behind.idx.Lookup(index.RootIno, "gone"); err == nil {
			t.Fatal("the deletion did not arrive")
		}
	})
	t.Run("batches after the checkpoint still arrive", func(t *testing.T) {
		v3 := randBytes(3, 100)
		a.writeFile(t, "later", v3)
		if err := a.eng.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
		if got := readThroughView(t, s, "later"); !bytes.Equal(got, v3) {
			t.Fatal("a batch after the checkpoint is missing")
		}
		if got := readThroughView(t, s, "f"); !bytes.Equal(got, v2) {
			t.Fatal("the checkpointed file is missing beside a later batch")
		}
	})
	t.Run("a second prune keeps the store readable", func(t *testing.T) {
		if _, err := Prune(testCtx(t), openRepo(t, s), PruneOptions{KeepWithin: 0}); err != nil {
			t.Fatal(err)
		}
		if got := readThroughView(t, s, "f"); !bytes.Equal(got, v2) {
			t.Fatal("content lost by the second prune")
		}
		vr, err := VerifyStore(testCtx(t), openRepo(t, s), StoreVerifyOptions{ReadData: true})
		if err != nil || len(vr.Problems) != 0 {
			t.Fatalf("verify: %v %+v", err, vr)
		}
	})
}

func journalCount(t *testing.T, s interface {
	List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error
}) int {
	t.Helper()
	n := 0
	if err := s.List(testCtx(t), journalPrefix, func(blobstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPeriodicCheckpoint checks that a device writes a checkpoint once the
// journals have grown past CheckpointEvery batches, and that it covers
// what the device had applied.
func TestPeriodicCheckpoint(t *testing.T) {
	s := initStore(t)
	a := newDevice(t, s, "aaaa")
	for i := range 4 {
		a.writeFile(t, "f", randBytes(int64(i), 100))
		if err := a.eng.Flush(testCtx(t), nil); err != nil {
			t.Fatal(err)
		}
	}
	b := newDevice(t, s, "bbbb")
	b.eng.opts.CheckpointEvery = 3
	if err := b.eng.Pull(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var rec *checkpointRecord
	for rec == nil {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint written")
		}
		time.Sleep(20 * time.Millisecond)
		if b.eng.checkpointing.Load() {
			continue
		}
		var err error
		if rec, err = newestCheckpoint(testCtx(t), openRepo(t, s)); err != nil {
			t.Fatal(err)
		}
	}
	if rec.Positions["aaaa"] != 4 {
		t.Fatalf("checkpoint positions %v, want aaaa:4", rec.Positions)
	}
	// Below the threshold nothing more is written.
	if err := b.eng.Pull(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for b.eng.checkpointing.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	if ids, _ := listCheckpoints(testCtx(t), openRepo(t, s)); len(ids) != 1 {
		t.Fatalf("%d checkpoints after a pull with nothing new", len(ids))
	}
}
