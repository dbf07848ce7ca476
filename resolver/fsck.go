package resolver

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
)

// CheckOptions say what Check looks at and may change.
type CheckOptions struct {
	// Store, if not nil, is checked for every chunk that the synced content
	// of Absent and Resident files refers to (by Stat: present, not read).
	Store blobstore.Store
	// Repair removes cache files the index does not know, and stray names
	// in the cache directory. Nothing else is ever changed.
	Repair bool
	// Progress, if not nil, is told each stage as it starts.
	Progress func(stage string)
}

// CheckReport is what Check found. Problems are for the user to read, one
// line each; Repaired lists what Repair removed.
type CheckReport struct {
	Files    int // regular files in the index
	Cached   int // keys in the cache directory
	Chunks   int // chunks checked in the store
	Problems []string
	Repaired []string
}

// Check verifies an index and its cache directory: the index's own
// integrity; that every Staged or Resident file has its cache file (which
// may be shorter than the file: a sparse tail reads as zeros, but a Staged or
// Resident file with no cache file at all has lost its content); cache
// files the index does not know (removed with Repair); and, given a store,
// that every chunk the synced content refers to exists. It works on a
// running mount's index as well as an offline one.
func Check(ctx context.Context, idx *index.DB, c *cache.Cache, o CheckOptions) (CheckReport, error) {
	var rep CheckReport
	stage := func(s string) {
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }

	stage("index integrity")
	probs, err := idx.Integrity(ctx)
	if err != nil {
		return rep, err
	}
	for _, p := range probs {
		problem("index: %s", p)
	}

	stage("cache files")
	// The directory is listed before the index is read: a file is created
	// only after its index row is committed, so nothing listed can be
	// newer than what the index then says.
	files, stray, err := c.Scan()
	if err != nil {
		return rep, err
	}
	known, trash, err := idx.KnownCacheFiles(ctx)
	if err != nil {
		return rep, err
	}
	rep.Cached = len(files)
	onDisk := make(map[cache.Key]cache.File, len(files))
	for _, f := range files {
		onDisk[f.Key] = f
	}
	current := make(map[cache.Key]bool, len(known))
	for _, k := range known {
		key := cache.Key{Ino: k.Key.Ino, Cver: k.Key.Cver}
		current[key] = true
		if k.State != index.StateStaged && k.State != index.StateResident {
			continue
		}
		rep.Files++
		f, ok := onDisk[key]
		switch {
		case (!ok || !f.HasData) && k.Size > 0:
			problem("inode %d (%s, %d bytes): no cache file %s", k.Key.Ino, k.State, k.Size, key)
		case ok && f.Size > k.Size && k.State == index.StateResident:
			problem("inode %d (resident): cache file %s is %d bytes, longer than the file's %d", k.Key.Ino, key, f.Size, k.Size)
		}
	}
	for _, k := range known {
		if k.State == index.StateAbsent {
			rep.Files++
		}
	}
	inTrash := make(map[cache.Key]bool, len(trash))
	for _, k := range trash {
		inTrash[cache.Key{Ino: k.Ino, Cver: k.Cver}] = true
	}
	for _, f := range files {
		if current[f.Key] || inTrash[f.Key] {
			continue
		}
		problem("cache file %s: not known to the index", f.Key)
		if o.Repair {
			if err := c.Remove(f.Key); err != nil {
				return rep, err
			}
			rep.Repaired = append(rep.Repaired, "removed cache file "+f.Key.String())
		}
	}
	for _, name := range stray {
		problem("cache directory: stray name %q", name)
		if o.Repair {
			if err := c.RemoveStray(name); err != nil {
				return rep, err
			}
			rep.Repaired = append(rep.Repaired, "removed "+name)
		}
	}

	if o.Store != nil {
		stage("chunks in the store")
		uses, err := idx.ChunkUses(ctx)
		if err != nil {
			return rep, err
		}
		rep.Chunks = len(uses)
		missing := make([]string, len(uses))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i, u := range uses {
			g.Go(func() error {
				_, err := o.Store.Stat(gctx, chunkName(u.ID))
				switch {
				case errors.Is(err, blobstore.ErrNotExist):
					missing[i] = fmt.Sprintf("chunk %s (used by inode %d): missing from the store", u.ID, u.Ino)
				case err != nil:
					return fmt.Errorf("stat chunk %s: %w", u.ID, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return rep, err
		}
		for _, m := range missing {
			if m != "" {
				rep.Problems = append(rep.Problems, m)
			}
		}
	}
	return rep, nil
}
