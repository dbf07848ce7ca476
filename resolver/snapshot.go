package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/index"
)

// Snapshot is a snapshot record, snapshots/<id>: the whole tree at one
// point in time, as the ID of its root tree plus the root directory's own
// record.
type Snapshot struct {
	Format int    `json:"format"`
	ID     string `json:"id"`
	// Name is the user's label; names need not be unique.
	Name   string           `json:"name"`
	Time   time.Time        `json:"time"`
	Device string           `json:"device"`
	Root   index.FileRecord `json:"root"`
	Tree   string           `json:"tree"`
	// Positions are, per device, the last journal batch the tree includes.
	Positions map[string]uint64 `json:"positions"`
	// Files counts distinct non-directory files (hard links once), Bytes
	// their content size, Chunks the distinct chunks they use.
	Files  int64 `json:"files"`
	Bytes  int64 `json:"bytes"`
	Chunks int64 `json:"chunks"`
}

// Errors of the snapshot commands.
var (
	ErrSnapshotNotFound  = errors.New("no such snapshot")
	ErrSnapshotAmbiguous = errors.New("snapshot reference is ambiguous")
	// ErrSnapshotRaced reports a snapshot withdrawn three times running
	// because a garbage-collection pass listed chunks it names.
	ErrSnapshotRaced = errors.New("snapshot kept racing with garbage collection")
)

func snapshotName(id string) string { return snapshotsPrefix + id }

// snapshotIDLen is the length of a snapshot ID in hex digits.
const snapshotIDLen = 32

// SnapshotOptions configure CreateSnapshot.
type SnapshotOptions struct {
	Name string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Created is what CreateSnapshot wrote, and what it had to leave out.
type Created struct {
	Snapshot Snapshot
	// Stale are the paths of files with local changes not yet uploaded:
	// the snapshot holds their last uploaded content.
	Stale []string `json:",omitempty"`
	// Skipped are the paths of files never uploaded, left out.
	Skipped []string `json:",omitempty"`
}

// CreateSnapshot records the namespace of idx, as one consistent read, in
// the store: every directory as a tree (only new ones are written), then
// the snapshot record. On a mount, flush first so that the store holds
// every file's content. If a garbage-collection pass that began meanwhile
// listed any chunk or tree the snapshot names, the record is withdrawn and the
// whole creation retried, up to three times.
func CreateSnapshot(ctx context.Context, repo *Repo, idx *index.DB, o SnapshotOptions) (*Created, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	for range 3 {
		epoch, err := gcEpochNow(ctx, repo)
		if err != nil {
			return nil, fmt.Errorf("create snapshot: %w", err)
		}
		c, chunks, err := createSnapshotOnce(ctx, repo, idx, o)
		if err != nil {
			return nil, fmt.Errorf("create snapshot: %w", err)
		}
		raced, err := gcRacedSince(ctx, repo, epoch, chunks)
		if err == nil && !raced {
			return c, nil
		}
		// Withdraw the record: it may name chunks about to be deleted
		// (or we could not tell).
		if derr := deleteSnapshot(ctx, repo, c.Snapshot.ID); derr != nil {
			return nil, fmt.Errorf("create snapshot: withdraw %s: %w", c.Snapshot.ID, derr)
		}
		if err != nil {
			return nil, fmt.Errorf("create snapshot: check for a concurrent prune: %w", err)
		}
	}
	return nil, fmt.Errorf("create snapshot: %w; try again after the prune", ErrSnapshotRaced)
}

func createSnapshotOnce(ctx context.Context, repo *Repo, idx *index.DB, o SnapshotOptions) (*Created, map[string]struct{}, error) {
	r, err := idx.ReadTree(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	root, err := r.Record(index.RootIno)
	if err != nil {
		return nil, nil, err
	}
	pos, err := r.Positions()
	if err != nil {
		return nil, nil, err
	}
	w := &treeWriter{repo: repo, r: r, stats: newTreeStats()}
	tree, err := w.writeDir(ctx, index.RootIno, "/")
	if err != nil {
		return nil, nil, err
	}
	s := Snapshot{
		Format: FormatVersion, ID: randomHex(snapshotIDLen / 2), Name: o.Name, Time: o.Now().UTC(),
		Device: idx.Device(), Root: root, Tree: tree, Positions: pos,
		Files: int64(len(w.stats.files)), Bytes: w.stats.bytes, Chunks: int64(len(w.stats.chunks)),
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, nil, fmt.Errorf("encode snapshot: %w", err)
	}
	sealed := repo.Keys.Seal(crypto.KindSnapshot, s.ID, b)
	if err := blobstore.PutBytesIfAbsent(ctx, repo.Store, snapshotName(s.ID), sealed); err != nil {
		return nil, nil, fmt.Errorf("store snapshot %s: %w", s.ID, err)
	}
	// A GC pass lists trees as well as chunks: a tree found present (and
	// so not written again) may be one it is about to delete.
	refs := w.stats.chunks
	for id := range w.stats.trees {
		refs[id] = struct{}{}
	}
	return &Created{Snapshot: s, Stale: w.stats.stale, Skipped: w.stats.skipped}, refs, nil
}

// GetSnapshot reads and authenticates one snapshot record by its full ID.
func GetSnapshot(ctx context.Context, repo *Repo, id string) (Snapshot, error) {
	name := snapshotName(id)
	sealed, err := blobstore.GetAll(ctx, repo.Store, name, 16<<20)
	if errors.Is(err, blobstore.ErrNotExist) {
		return Snapshot{}, fmt.Errorf("%w: %s", ErrSnapshotNotFound, id)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("fetch snapshot %s: %w", id, err)
	}
	plain, err := repo.Keys.Open(crypto.KindSnapshot, id, sealed)
	if err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w: %w", name, ErrDamaged, err)
	}
	var s Snapshot
	if err := json.Unmarshal(plain, &s); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s: %v: %w", name, err, ErrDamaged)
	}
	if s.Format != FormatVersion {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w: version %d", name, ErrUnknownFormat, s.Format)
	}
	if s.ID != id || !isHex(s.Tree, crypto.ChunkIDLen) {
		return Snapshot{}, fmt.Errorf("snapshot %s: record names %s, tree %q: %w", name, s.ID, s.Tree, ErrDamaged)
	}
	return s, nil
}

// ListSnapshots returns every snapshot record in the store, oldest first.
// Records that cannot be read do not stop it: it returns the others
// together with an error wrapping ErrDamaged that names each bad one. Any
// other error (the listing failed) comes with no snapshots.
func ListSnapshots(ctx context.Context, repo *Repo) ([]Snapshot, error) {
	return listSnapshots(ctx, repo)
}

// listSnapshots is ListSnapshots, for garbage collection: a non-nil list
// with an error means some records could not be read, and so whatever they
// name must be kept.
func listSnapshots(ctx context.Context, repo *Repo) ([]Snapshot, error) {
	var ids []string
	err := repo.Store.List(ctx, snapshotsPrefix, func(i blobstore.Info) error {
		ids = append(ids, strings.TrimPrefix(i.Name, snapshotsPrefix))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	out := []Snapshot{}
	var bad []error
	for _, id := range ids {
		if !isHex(id, snapshotIDLen) {
			bad = append(bad, fmt.Errorf("%s: not a snapshot name: %w", snapshotName(id), ErrDamaged))
			continue
		}
		s, err := GetSnapshot(ctx, repo, id)
		switch {
		case errors.Is(err, ErrSnapshotNotFound):
			continue // deleted since the listing
		case errors.Is(err, ErrDamaged), errors.Is(err, ErrUnknownFormat):
			bad = append(bad, err)
			continue
		case err != nil:
			return nil, err
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(bad) > 0 {
		return out, fmt.Errorf("%d snapshot records unreadable: %w", len(bad), errors.Join(bad...))
	}
	return out, nil
}

// ResolveSnapshot finds the snapshot ref names: a full ID, an unambiguous
// ID prefix of at least 6 hex digits, or a name (the newest snapshot of
// that name). More than one candidate is ErrSnapshotAmbiguous, listing
// them; none is ErrSnapshotNotFound.
func ResolveSnapshot(ctx context.Context, repo *Repo, ref string) (Snapshot, error) {
	if ref == "" {
		return Snapshot{}, fmt.Errorf("%w: empty reference", ErrSnapshotNotFound)
	}
	if isHex(ref, snapshotIDLen) {
		s, err := GetSnapshot(ctx, repo, ref)
		if !errors.Is(err, ErrSnapshotNotFound) {
			return s, err
		}
	}
	all, err := listSnapshots(ctx, repo)
	if err != nil && all == nil {
		return Snapshot{}, err
	}
	var cands []Snapshot
	if len(ref) >= 6 && isHex(ref, len(ref)) {
		for _, s := range all {
			if strings.HasPrefix(s.ID, ref) {
				cands = append(cands, s)
			}
		}
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].Name == ref {
			if !slices.ContainsFunc(cands, func(c Snapshot) bool { return c.ID == all[i].ID }) {
				cands = append(cands, all[i])
			}
			break
		}
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		if err != nil {
			// The one we want may be among the unreadable records.
			return Snapshot{}, fmt.Errorf("%w: %q (%w)", ErrSnapshotNotFound, ref, err)
		}
		return Snapshot{}, fmt.Errorf("%w: %q", ErrSnapshotNotFound, ref)
	}
	var b strings.Builder
	for _, c := range cands {
		fmt.Fprintf(&b, "\n  %s  %s  %s", c.ID, c.Name, c.Time.Format(time.RFC3339))
	}
	return Snapshot{}, fmt.Errorf("%w: %q could be:%s", ErrSnapshotAmbiguous, ref, b.String())
}

// DeleteSnapshot removes a snapshot record. The trees and chunks only it
// used stay until garbage collection.
func DeleteSnapshot(ctx context.Context, repo *Repo, id string) error {
	return deleteSnapshot(ctx, repo, id)
}

func deleteSnapshot(ctx context.Context, repo *Repo, id string) error {
	if !isHex(id, snapshotIDLen) {
		return fmt.Errorf("delete snapshot %q: %w", id, ErrSnapshotNotFound)
	}
	if err := repo.Store.Delete(ctx, snapshotName(id)); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", id, err)
	}
	return nil
}

// walkSnapshotRefs calls tree for every tree and chunk for every chunk
// that snap references, each once, trees before what they contain. It
// stops at the first error: a tree it cannot read (missing or damaged) or
// one returned by a callback.
func walkSnapshotRefs(ctx context.Context, repo *Repo, snap Snapshot, tree func(id string) error, chunk func(id string) error) error {
	var c codec
	seenTrees := map[string]struct{}{}
	seenChunks := map[string]struct{}{}
	todo := []string{snap.Tree}
	for len(todo) > 0 {
		id := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if _, ok := seenTrees[id]; ok {
			continue
		}
		seenTrees[id] = struct{}{}
		if err := tree(id); err != nil {
			return err
		}
		t, err := readTree(ctx, repo, &c, id)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", snap.ID, err)
		}
		for _, e := range t.Entries {
			if e.Tree != "" {
				todo = append(todo, e.Tree)
			}
			if e.File.Content == nil {
				continue
			}
			for _, r := range e.File.Content.Chunks {
				if _, ok := seenChunks[r.ID]; ok {
					continue
				}
				seenChunks[r.ID] = struct{}{}
				if err := chunk(r.ID); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
