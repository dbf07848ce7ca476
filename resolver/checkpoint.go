package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/index"
)

// Checkpoints let journals be deleted and new devices start without
// replaying every batch. A checkpoint is the settled state of a store as
// of a journal position per device (index.Checkpoint: live versions,
// entry versions, tombstones and the versions kept for history), written
// as packs/<id> objects and named by a checkpoints/<id> record. A device
// whose next batch is missing while a checkpoint covers it applies the
// checkpoint instead. Prune writes one from the tree it rebuilt, then
// deletes the batches it covers: the copy is in the store before anything
// it replaces is deleted.

const (
	checkpointsPrefix = "checkpoints/"
	packsPrefix       = "packs/"
	// packRecords bounds the records of one pack, so that a pack stays far
	// below the size a reader accepts.
	packRecords = 50000
	// keepCheckpoints is how many checkpoint records prune keeps: the
	// newest, and one before it for a device in the middle of reading it.
	keepCheckpoints = 2
)

func checkpointName(id string) string { return checkpointsPrefix + id }
func packName(id string) string       { return packsPrefix + id }

// checkpointRecord is the plaintext of checkpoints/<id>.
type checkpointRecord struct {
	Format    int               `json:"format"`
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Device    string            `json:"device"`
	Positions map[string]uint64 `json:"positions"`
	Packs     []string          `json:"packs"`
	Files     int               `json:"files"`
	History   int               `json:"history"`
}

// checkpointID sorts by time: 20 digits of Unix nanoseconds, then random.
func checkpointID(t time.Time) string {
	return fmt.Sprintf("%020d-%s", t.UnixNano(), randomHex(8))
}

// writeCheckpoint writes idx's settled state as a checkpoint.
func writeCheckpoint(ctx context.Context, repo *Repo, idx *index.DB, now time.Time, keep func([]index.Version, int) bool) (*checkpointRecord, error) {
	cp, err := idx.ReadCheckpoint(ctx, keep)
	if err != nil {
		return nil, err
	}
	rec := &checkpointRecord{Format: FormatVersion, ID: checkpointID(now), Time: now.UTC(), Device: idx.Device(),
		Positions: cp.Positions, Files: len(cp.Files), History: len(cp.History)}
	var c codec
	for _, part := range splitCheckpoint(cp) {
		b, err := json.Marshal(part)
		if err != nil {
			return nil, fmt.Errorf("encode checkpoint: %w", err)
		}
		id := randomHex(16)
		sealed := repo.Keys.Seal(crypto.KindPack, id, c.compress(b))
		if err := blobstore.PutBytesIfAbsent(ctx, repo.Store, packName(id), sealed); err != nil {
			return nil, fmt.Errorf("store checkpoint pack: %w", err)
		}
		rec.Packs = append(rec.Packs, id)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	sealed := repo.Keys.Seal(crypto.KindCheckpoint, rec.ID, b)
	if err := blobstore.PutBytesIfAbsent(ctx, repo.Store, checkpointName(rec.ID), sealed); err != nil {
		return nil, fmt.Errorf("store checkpoint %s: %w", rec.ID, err)
	}
	return rec, nil
}

// splitCheckpoint cuts a checkpoint into parts of at most packRecords
// records each; the positions stay in the record.
func splitCheckpoint(cp *index.Checkpoint) []*index.Checkpoint {
	var parts []*index.Checkpoint
	cur := &index.Checkpoint{}
	n := 0
	next := func() {
		if n >= packRecords {
			parts = append(parts, cur)
			cur, n = &index.Checkpoint{}, 0
		}
		n++
	}
	for _, f := range cp.Files {
		next()
		cur.Files = append(cur.Files, f)
		if h, ok := cp.Held[f.ID]; ok {
			if cur.Held == nil {
				cur.Held = map[string]index.VV{}
			}
			cur.Held[f.ID] = h
		}
	}
	for _, d := range cp.Entries {
		next()
		cur.Entries = append(cur.Entries, d)
	}
	for _, f := range cp.Tombstones {
		next()
		cur.Tombstones = append(cur.Tombstones, f)
	}
	for _, f := range cp.History {
		next()
		cur.History = append(cur.History, f)
	}
	return append(parts, cur)
}

func readCheckpointRecord(ctx context.Context, repo *Repo, id string) (*checkpointRecord, error) {
	name := checkpointName(id)
	sealed, err := blobstore.GetAll(ctx, repo.Store, name, 16<<20)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	body, err := repo.Keys.Open(crypto.KindCheckpoint, id, sealed)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrDamaged, err)
	}
	var r checkpointRecord
	if err := json.Unmarshal(body, &r); err != nil || r.ID != id {
		return nil, fmt.Errorf("%s: %w", name, ErrDamaged)
	}
	if r.Format != FormatVersion {
		return nil, fmt.Errorf("%s: %w: version %d", name, ErrUnknownFormat, r.Format)
	}
	return &r, nil
}

// loadCheckpoint reads every pack of a checkpoint into one.
func loadCheckpoint(ctx context.Context, repo *Repo, rec *checkpointRecord) (*index.Checkpoint, error) {
	cp := &index.Checkpoint{Positions: rec.Positions, Held: map[string]index.VV{}}
	var c codec
	for _, id := range rec.Packs {
		name := packName(id)
		sealed, err := blobstore.GetAll(ctx, repo.Store, name, maxPlain+1024)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: read %s: %w", rec.ID, name, err)
		}
		body, err := repo.Keys.Open(crypto.KindPack, id, sealed)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %s: %w: %w", rec.ID, name, ErrDamaged, err)
		}
		plain, err := c.decompress(body)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %s: %w", rec.ID, name, err)
		}
		var part index.Checkpoint
		if err := json.Unmarshal(plain, &part); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %s: %v: %w", rec.ID, name, err, ErrDamaged)
		}
		cp.Files = append(cp.Files, part.Files...)
		cp.Entries = append(cp.Entries, part.Entries...)
		cp.Tombstones = append(cp.Tombstones, part.Tombstones...)
		cp.History = append(cp.History, part.History...)
		for k, v := range part.Held {
			cp.Held[k] = v
		}
	}
	if len(cp.Files) != rec.Files || len(cp.History) != rec.History {
		return nil, fmt.Errorf("checkpoint %s: packs hold %d files and %d versions, the record says %d and %d: %w",
			rec.ID, len(cp.Files), len(cp.History), rec.Files, rec.History, ErrDamaged)
	}
	return cp, nil
}

// listCheckpoints returns the checkpoint IDs in the store, oldest first.
func listCheckpoints(ctx context.Context, repo *Repo) ([]string, error) {
	var ids []string
	err := repo.Store.List(ctx, checkpointsPrefix, func(i blobstore.Info) error {
		ids = append(ids, strings.TrimPrefix(i.Name, checkpointsPrefix))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	sort.Strings(ids)
	return ids, nil
}

// newestCheckpoint returns the newest checkpoint that can be read, or nil.
// A damaged one is skipped for an older one, and reported if none is left.
func newestCheckpoint(ctx context.Context, repo *Repo) (*checkpointRecord, error) {
	ids, err := listCheckpoints(ctx, repo)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for i := len(ids) - 1; i >= 0; i-- {
		rec, err := readCheckpointRecord(ctx, repo, ids[i])
		if err == nil {
			return rec, nil
		}
		if errors.Is(err, blobstore.ErrNotExist) {
			continue // deleted meanwhile
		}
		if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrUnknownFormat) {
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// errBehindCheckpoint is a device's next batch missing while a checkpoint
// covers it: the batches were deleted after the checkpoint was written.
var errBehindCheckpoint = errors.New("journal batches deleted; a checkpoint covers them")

// checkpointFor returns the newest checkpoint, read at most once per pull
// round (cached by its ID).
func (e *Engine) checkpointFor(ctx context.Context) (*checkpointRecord, error) {
	ids, err := listCheckpoints(ctx, e.repo)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	e.mu.Lock()
	cached := e.checkpoint
	e.mu.Unlock()
	if cached != nil && cached.ID == ids[len(ids)-1] {
		return cached, nil
	}
	rec, err := newestCheckpoint(ctx, e.repo)
	if err != nil || rec == nil {
		return nil, err
	}
	e.mu.Lock()
	e.checkpoint = rec
	e.mu.Unlock()
	return rec, nil
}

// applyCheckpoint brings the index up to a checkpoint.
func (e *Engine) applyCheckpoint(ctx context.Context, rec *checkpointRecord) error {
	cp, err := loadCheckpoint(ctx, e.repo, rec)
	if err != nil {
		return err
	}
	if e.opts.OnBatch != nil {
		recs := make([]index.Record, 0, len(cp.History)+len(cp.Files))
		for i := range cp.History {
			recs = append(recs, index.Record{File: &cp.History[i]})
		}
		for i := range cp.Files {
			f := cp.Files[i]
			if held, ok := cp.Held[f.ID]; ok {
				// The version's own vector: the losers merged into the
				// file's were not seen by it (see supersededAt).
				f.VV = held
			}
			recs = append(recs, index.Record{File: &f})
		}
		e.opts.OnBatch(rec.Device, 0, recs)
	}
	if err := e.idx.ApplyCheckpoint(cp); err != nil {
		return fmt.Errorf("apply checkpoint %s: %w", rec.ID, err)
	}
	e.log.Info("applied checkpoint", "id", rec.ID, "files", rec.Files)
	return nil
}

// trimJournals deletes the batches a checkpoint covers, then the
// checkpoint records older than the newest keepCheckpoints (their packs go
// at a later sweep, once unreferenced). It returns how many batches went.
func trimJournals(ctx context.Context, repo *Repo, rec *checkpointRecord) (int, error) {
	n := 0
	for d, pos := range rec.Positions {
		var names []string
		err := repo.Store.List(ctx, journalPrefix+d+"/", func(i blobstore.Info) error {
			seq, err := strconv.ParseUint(strings.TrimPrefix(i.Name, journalPrefix+d+"/"), 10, 64)
			if err == nil && seq <= pos && journalName(d, seq) == i.Name {
				names = append(names, i.Name)
			}
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("list journal of %s: %w", d, err)
		}
		for _, name := range names {
			if err := repo.Store.Delete(ctx, name); err != nil && !errors.Is(err, blobstore.ErrNotExist) {
				return n, fmt.Errorf("delete %s: %w", name, err)
			}
			n++
		}
	}
	ids, err := listCheckpoints(ctx, repo)
	if err != nil {
		return n, err
	}
	for i := 0; i < len(ids)-keepCheckpoints; i++ {
		if ids[i] >= rec.ID {
			break
		}
		if err := repo.Store.Delete(ctx, checkpointName(ids[i])); err != nil && !errors.Is(err, blobstore.ErrNotExist) {
			return n, err
		}
	}
	return n, nil
}

// addCheckpointRefs adds the packs of every checkpoint to refs. A record
// that cannot be read fails the scan.
func addCheckpointRefs(ctx context.Context, repo *Repo, refs map[string]struct{}) error {
	ids, err := listCheckpoints(ctx, repo)
	if err != nil {
		return err
	}
	for _, id := range ids {
		rec, err := readCheckpointRecord(ctx, repo, id)
		if errors.Is(err, blobstore.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read checkpoint (nothing deleted): %w", err)
		}
		for _, p := range rec.Packs {
			refs[packName(p)] = struct{}{}
		}
	}
	return nil
}

// DefaultCheckpointEvery is how many journal batches, summed over devices,
// may follow the newest checkpoint before a mounted device writes a new one.
const DefaultCheckpointEvery = 2000

// maybeCheckpoint writes a checkpoint in the background when the journals
// have grown CheckpointEvery batches past the newest one, so that a new
// device or one long offline starts from it rather than replaying every
// batch. It rebuilds the tree from the store (a View), never from this
// device's own index, whose unsent changes are not the store's yet. Several
// devices may do so at once: the newest checkpoint simply wins.
func (e *Engine) maybeCheckpoint(ctx context.Context) {
	every := e.opts.CheckpointEvery
	if every <= 0 || !e.checkpointing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer e.checkpointing.Store(false)
		if err := e.checkpointIfDue(ctx, uint64(every)); err != nil && ctx.Err() == nil {
			e.log.Warn("periodic checkpoint failed", "err", err)
		}
	}()
}

func (e *Engine) checkpointIfDue(ctx context.Context, every uint64) error {
	r, err := e.idx.ReadTree(ctx)
	if err != nil {
		return err
	}
	pos, err := r.Positions()
	r.Close()
	if err != nil {
		return err
	}
	cp, err := e.checkpointFor(ctx)
	if err != nil {
		return err
	}
	var since uint64
	for d, seq := range pos {
		var covered uint64
		if cp != nil {
			covered = cp.Positions[d]
		}
		if seq > covered {
			since += seq - covered
		}
	}
	if since < every {
		return nil
	}
	v, err := OpenView(ctx, e.repo, ViewOptions{Engine: Options{Logger: e.log}})
	if err != nil {
		return err
	}
	defer v.Close()
	cutoff := e.VersionCutoff()
	keep := func(vers []index.Version, i int) bool { return keepVersion(vers, i, cutoff) }
	rec, err := writeCheckpoint(ctx, e.repo, v.Index, time.Now(), keep)
	if err != nil {
		return err
	}
	e.log.Info("wrote checkpoint", "id", rec.ID, "batches since the last", since)
	// Old records go (their packs are collected by a later prune); the
	// batches stay until a prune deletes them.
	ids, err := listCheckpoints(ctx, e.repo)
	if err != nil {
		return err
	}
	for i := 0; i < len(ids)-keepCheckpoints; i++ {
		if err := e.repo.Store.Delete(ctx, checkpointName(ids[i])); err != nil && !errors.Is(err, blobstore.ErrNotExist) {
			return err
		}
	}
	return nil
}
