package resolver

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncfs/syncfs/index"
)

// pruneSnapshots deletes the snapshots the retention policy does not keep.
func pruneSnapshots(ctx context.Context, repo *Repo, o PruneOptions, rep *PruneReport) error {
	snaps, err := listSnapshots(ctx, repo)
	if err != nil {
		return err
	}
	infos := make([]snapInfo, len(snaps))
	for i, s := range snaps {
		infos[i] = snapInfo{ID: s.ID, Time: s.Time}
	}
	keep := keepSnapshots(infos, o.KeepLast, o.KeepDaily, o.KeepWeekly)
	for _, s := range snaps {
		if keep[s.ID] {
			rep.SnapshotsKept++
			continue
		}
		if !o.DryRun {
			if err := deleteSnapshot(ctx, repo, s.ID); err != nil {
				return err
			}
		}
		rep.SnapshotsDeleted = append(rep.SnapshotsDeleted, s.ID)
	}
	return nil
}

// addSnapshotRefs adds every tree and chunk a snapshot names to refs. A
// snapshot that cannot be read fails the scan: what it names is unknown.
func addSnapshotRefs(ctx context.Context, repo *Repo, refs map[string]struct{}) error {
	snaps, err := listSnapshots(ctx, repo)
	if err != nil {
		return err
	}
	for _, s := range snaps {
		err := walkSnapshotRefs(ctx, repo, s,
			func(id string) error { refs[treeName(id)] = struct{}{}; return nil },
			func(id string) error { refs[chunkName(id)] = struct{}{}; return nil })
		if err != nil {
			return fmt.Errorf("read snapshot %s (nothing deleted): %w", s.ID, err)
		}
	}
	return nil
}

// verifySnapshotRefs walks every snapshot's trees, reporting damaged or
// missing trees as problems, and hands each chunk reference to add. It
// returns how many snapshots there are.
func verifySnapshotRefs(ctx context.Context, repo *Repo, add func(index.ChunkRef, string), problem func(object, what, usedBy string)) (int, error) {
	snaps, err := listSnapshots(ctx, repo)
	if err != nil {
		return 0, err
	}
	var c codec
	seen := map[string]bool{}
	for _, s := range snaps {
		by := "snapshot " + s.ID
		if s.Name != "" {
			by += " (" + s.Name + ")"
		}
		todo := []string{s.Tree}
		for len(todo) > 0 {
			id := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			if seen[id] {
				continue
			}
			seen[id] = true
			t, err := readTree(ctx, repo, &c, id)
			if err != nil {
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				if errors.Is(err, ErrDamaged) {
					problem(treeName(id), "damaged: "+err.Error(), by)
				} else {
					problem(treeName(id), err.Error(), by)
				}
				continue
			}
			for _, e := range t.Entries {
				if e.Tree != "" {
					todo = append(todo, e.Tree)
				}
				if e.File.Content != nil {
					for _, r := range e.File.Content.Chunks {
						add(r, by)
					}
				}
			}
		}
	}
	return len(snaps), nil
}
