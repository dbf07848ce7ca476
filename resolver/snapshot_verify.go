package resolver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/index"
)

// VerifyOptions configure VerifySnapshot.
type VerifyOptions struct {
	// Parallel is how many chunks are checked at once (default 4).
	Parallel int
	// Progress, if set, is called with the chunk bytes checked so far and
	// the total to check; calls never overlap.
	Progress func(done, total int64)
}

// Problem kinds in a VerifyReport.
const (
	ProblemMissing = "missing"
	ProblemDamaged = "damaged"
)

// maxProblemPaths bounds the paths listed for one bad object.
const maxProblemPaths = 10

// VerifyProblem is one missing or damaged object and where it is used.
type VerifyProblem struct {
	Object string   `json:"object"` // its name in the store
	Kind   string   `json:"kind"`   // ProblemMissing or ProblemDamaged
	Detail string   `json:"detail"`
	Paths  []string `json:"paths"`          // the first few paths that use it
	More   int      `json:"more,omitempty"` // how many more paths use it
}

// VerifyReport is what VerifySnapshot checked and found.
type VerifyReport struct {
	Snapshot string          `json:"snapshot"`
	Trees    int             `json:"trees"`
	Chunks   int             `json:"chunks"`
	Bytes    int64           `json:"bytes"`
	Problems []VerifyProblem `json:"problems"`
}

// chunkUse is one chunk a snapshot names and the paths that use it.
type chunkUse struct {
	ref   index.ChunkRef
	paths []string
	more  int
}

// VerifySnapshot reads and authenticates every tree of snap (each checked
// against its ID) and downloads every chunk it names (authenticated, then
// its length and keyed hash checked). Each missing or damaged object is
// reported by name with the paths that use it; the error is only for a
// check that could not run (the store unreachable, ctx ended).
func VerifySnapshot(ctx context.Context, repo *Repo, snap Snapshot, o VerifyOptions) (*VerifyReport, error) {
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	rep := &VerifyReport{Snapshot: snap.ID, Problems: []VerifyProblem{}}
	var c codec
	chunks := map[string]*chunkUse{}
	treePaths := map[string][]string{} // trees seen, with the paths they appear at
	type dirTodo struct{ id, path string }
	todo := []dirTodo{{snap.Tree, "/"}}
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if ps, ok := treePaths[d.id]; ok {
			treePaths[d.id] = append(ps, d.path)
			continue // identical directories are one object: checked once
		}
		treePaths[d.id] = []string{d.path}
		rep.Trees++
		t, err := readTree(ctx, repo, &c, d.id)
		if err != nil {
			if ctx.Err() != nil || !isObjectProblem(err) {
				return nil, fmt.Errorf("verify %s: %w", snap.ID, err)
			}
			rep.Problems = append(rep.Problems, VerifyProblem{Object: treeName(d.id), Kind: problemKind(err), Detail: err.Error(), Paths: []string{d.path}})
			continue
		}
		for _, e := range t.Entries {
			p := joinPath(d.path, e.Name)
			if e.Tree != "" {
				todo = append(todo, dirTodo{e.Tree, p})
			}
			if e.File.Content == nil {
				continue
			}
			if msg := contentProblem(e.File.Content); msg != "" {
				rep.Problems = append(rep.Problems, VerifyProblem{Object: treeName(d.id), Kind: ProblemDamaged, Detail: fmt.Sprintf("entry %q: %s", e.Name, msg), Paths: []string{p}})
			}
			for _, r := range e.File.Content.Chunks {
				u := chunks[r.ID]
				if u == nil {
					u = &chunkUse{ref: r}
					chunks[r.ID] = u
					rep.Bytes += r.Len
				}
				if len(u.paths) < maxProblemPaths {
					if !slices.Contains(u.paths, p) {
						u.paths = append(u.paths, p)
					}
				} else {
					u.more++
				}
			}
		}
	}
	// A damaged tree seen at several paths: name them all.
	for i := range rep.Problems {
		if ps := treePaths[rep.Problems[i].Object[len(treesPrefix):]]; len(ps) > 1 && rep.Problems[i].Paths[0] == ps[0] {
			rep.Problems[i].Paths = ps
		}
	}
	rep.Chunks = len(chunks)
	probs, err := verifyChunks(ctx, repo, &c, chunks, rep.Bytes, o)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", snap.ID, err)
	}
	rep.Problems = append(rep.Problems, probs...)
	return rep, nil
}

// contentProblem checks a content record against itself.
func contentProblem(c *index.Content) string {
	if len(c.Chunks) == 0 {
		if int64(len(c.Inline)) != c.Size {
			return fmt.Sprintf("inline content has %d bytes, size says %d", len(c.Inline), c.Size)
		}
		return ""
	}
	var n int64
	for _, r := range c.Chunks {
		n += r.Len
	}
	if n != c.Size {
		return fmt.Sprintf("chunks add up to %d bytes, size says %d", n, c.Size)
	}
	return ""
}

// verifyChunks downloads and checks every chunk, a few at once, in ID order.
func verifyChunks(ctx context.Context, repo *Repo, c *codec, chunks map[string]*chunkUse, total int64, o VerifyOptions) ([]VerifyProblem, error) {
	ids := make([]string, 0, len(chunks))
	for id := range chunks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex // protects the following
	var probs []VerifyProblem
	var fatal error
	var done int64
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for _, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(u *chunkUse) {
			defer func() { <-sem; wg.Done() }()
			_, err := readChunk(ctx, repo, c, u.ref)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
			case ctx.Err() == nil && isObjectProblem(err):
				probs = append(probs, VerifyProblem{Object: chunkName(u.ref.ID), Kind: problemKind(err), Detail: err.Error(), Paths: u.paths, More: u.more})
			default:
				if fatal == nil {
					fatal = err
					cancel()
				}
			}
			done += u.ref.Len
			if o.Progress != nil {
				o.Progress(done, total)
			}
		}(chunks[id])
	}
	wg.Wait()
	if fatal == nil {
		fatal = ctx.Err()
	}
	if fatal != nil {
		return nil, fatal
	}
	slices.SortFunc(probs, func(a, b VerifyProblem) int {
		if a.Object < b.Object {
			return -1
		}
		if a.Object > b.Object {
			return 1
		}
		return 0
	})
	return probs, nil
}

// isObjectProblem tells a bad object (missing, damaged, of an unknown
// format) from a failure to check it.
func isObjectProblem(err error) bool {
	return errors.Is(err, blobstore.ErrNotExist) || errors.Is(err, ErrDamaged) || errors.Is(err, ErrUnknownFormat)
}

func problemKind(err error) string {
	if errors.Is(err, blobstore.ErrNotExist) {
		return ProblemMissing
	}
	return ProblemDamaged
}
