package resolver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/index"
)

// StoreVerifyOptions say how deep VerifyStore looks.
type StoreVerifyOptions struct {
	// ReadData downloads every reachable chunk and checks that it opens
	// (authenticates), decompresses and matches its ID and length. Without
	// it, chunks are only checked to be present.
	ReadData bool
	// Progress, if set, is told how many chunks of how many have been read.
	Progress func(done, total int)
}

// StoreProblem is one damaged or missing object, with what uses it.
type StoreProblem struct {
	Object  string // store object name
	Problem string
	UsedBy  string `json:",omitempty"` // a path, or "snapshot <id>", or a file version
}

// StoreVerifyReport is what VerifyStore found.
type StoreVerifyReport struct {
	Devices   int
	Files     int // live files with content
	Chunks    int // reachable chunks
	Snapshots int
	BytesRead int64
	Problems  []StoreProblem
}

// VerifyStore checks the whole store: every journal authenticates, every
// snapshot and its trees authenticate, and every chunk that the current
// tree, a file version still inside retention or a snapshot refers to is
// present (and, with ReadData, intact). Damage is reported object by
// object; only an unreachable store or a cancelled ctx is an error.
func VerifyStore(ctx context.Context, repo *Repo, o StoreVerifyOptions) (*StoreVerifyReport, error) {
	rep := &StoreVerifyReport{}
	problem := func(object, what, usedBy string) {
		rep.Problems = append(rep.Problems, StoreProblem{Object: object, Problem: what, UsedBy: usedBy})
	}
	cutoff, err := newestCutoff(ctx, repo)
	if err != nil {
		return nil, err
	}
	// chunk name -> a reference to check it against and who uses it
	type use struct {
		ref index.ChunkRef
		by  string
	}
	uses := map[string]use{}
	add := func(ref index.ChunkRef, by string) {
		if _, ok := uses[chunkName(ref.ID)]; !ok {
			uses[chunkName(ref.ID)] = use{ref, by}
		}
	}
	type version struct {
		vv     index.VV
		hlc    int64
		refs   []index.ChunkRef
		device string
		id     string
	}
	history := map[string][]version{}
	onBatch := func(device string, seq uint64, recs []index.Record) {
		for _, r := range recs {
			if f := r.File; f != nil && f.Content != nil {
				history[f.ID] = append(history[f.ID], version{f.VV, f.HLC, f.Content.Chunks, device, f.ID})
			} else if f != nil {
				history[f.ID] = append(history[f.ID], version{vv: f.VV, hlc: f.HLC, id: f.ID})
			}
		}
	}
	v, err := OpenView(ctx, repo, ViewOptions{Partial: true, Engine: Options{OnBatch: onBatch}})
	if err != nil {
		return nil, err
	}
	defer v.Close()
	if v.PullErr != nil {
		if blobstore.IsTransient(v.PullErr) {
			return nil, v.PullErr
		}
		problem("journal", v.PullErr.Error(), "")
	}
	if rep.Devices, err = countDevices(ctx, repo); err != nil {
		return nil, err
	}
	live, err := v.Index.ChunkUses(ctx)
	if err != nil {
		return nil, err
	}
	files := map[uint64]bool{}
	for _, u := range live {
		if files[u.Ino] {
			continue // ChunkUses names an inode once per chunk
		}
		files[u.Ino] = true
		a, err := v.Index.GetAttr(u.Ino)
		if err != nil {
			continue
		}
		c, err := v.Index.ContentOf(u.Ino, a.Cver)
		if err != nil {
			continue
		}
		path, _ := v.Index.PathOf(u.Ino)
		for _, r := range c.Chunks {
			add(r, path)
		}
	}
	rep.Files = len(files)
	for _, vers := range history {
		for i, ver := range vers {
			// The collector's own rule (prune.go): what it keeps must be here.
			at, ok := supersededAt(len(vers), func(j int) index.VV { return vers[j].vv }, func(j int) int64 { return vers[j].hlc }, i)
			if cutoff != 0 && ok && at < cutoff {
				continue
			}
			for _, r := range ver.refs {
				add(r, fmt.Sprintf("a version of file %s from device %s", ver.id, ver.device))
			}
		}
	}
	snaps, err := verifySnapshotRefs(ctx, repo, func(ref index.ChunkRef, by string) { add(ref, by) }, problem)
	if err != nil {
		return nil, err
	}
	rep.Snapshots = snaps

	present := map[string]bool{}
	if err := repo.Store.List(ctx, chunksPrefix, func(i blobstore.Info) error {
		present[i.Name] = true
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list chunks: %w", err)
	}
	names := make([]string, 0, len(uses))
	for n := range uses {
		names = append(names, n)
	}
	sort.Strings(names)
	rep.Chunks = len(names)
	var toRead []string
	for _, n := range names {
		if !present[n] {
			problem(n, "missing", uses[n].by)
		} else if o.ReadData {
			toRead = append(toRead, n)
		}
	}
	if !o.ReadData {
		return rep, nil
	}
	var mu sync.Mutex
	done := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, n := range toRead {
		u := uses[n]
		g.Go(func() error {
			plain, err := v.Engine.getChunk(gctx, u.ref)
			mu.Lock()
			defer mu.Unlock()
			done++
			if o.Progress != nil {
				o.Progress(done, len(toRead))
			}
			switch {
			case err == nil:
				rep.BytesRead += int64(len(plain))
			case errors.Is(err, ErrDamaged):
				problem(n, "damaged: "+err.Error(), u.by)
			case errors.Is(err, blobstore.ErrNotExist):
				problem(n, "missing", u.by)
			case gctx.Err() != nil || blobstore.IsTransient(err):
				return err
			default:
				problem(n, err.Error(), u.by)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Object < rep.Problems[j].Object })
	return rep, nil
}

func countDevices(ctx context.Context, repo *Repo) (int, error) {
	d, err := listDevices(ctx, repo)
	return len(d), err
}

// newestCutoff returns the newest version-retention cutoff of any epoch:
// versions superseded before it may have lost their content by design.
func newestCutoff(ctx context.Context, repo *Repo) (int64, error) {
	epochs, err := gcEpochs(ctx, repo)
	if err != nil {
		return 0, err
	}
	var cutoff int64
	for _, n := range epochs {
		g, err := readGC(ctx, repo, n)
		if err != nil {
			return 0, err
		}
		cutoff = max(cutoff, g.Cutoff)
	}
	return cutoff, nil
}
