package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"

	"github.com/syncfs/syncfs/cache"
	"github.com/syncfs/syncfs/index"
	"github.com/syncfs/syncfs/internal/killpoint"
)

var _ cache.Fetcher = (*Engine)(nil)

// Fetch fills [off, off+n) of a file version into dst, in whole chunks, and
// returns the range written. Only the chunks that overlap the range are
// fetched (the cache asks for read-ahead by asking for more), up to
// Options.Parallel at a time; it fails as a whole if any chunk fails.
func (e *Engine) Fetch(ctx context.Context, key cache.Key, off, n int64, dst io.WriterAt) (int64, int64, error) {
	c, err := e.idx.ContentOf(key.Ino, key.Cver)
	if err != nil {
		return 0, 0, err
	}
	if len(c.Chunks) == 0 {
		if int64(len(c.Inline)) != c.Size {
			return 0, 0, fmt.Errorf("inline content of inode %d has %d bytes, want %d: %w", key.Ino, len(c.Inline), c.Size, ErrDamaged)
		}
		if _, err := dst.WriteAt(c.Inline, 0); err != nil {
			return 0, 0, cache.MapError(err)
		}
		return 0, c.Size, nil
	}
	type placed struct {
		ref index.ChunkRef
		pos int64
	}
	var want []placed
	var pos int64
	for _, ref := range c.Chunks {
		if pos >= off+n {
			break
		}
		if pos+ref.Len > off {
			want = append(want, placed{ref, pos})
		}
		pos += ref.Len
	}
	if len(want) == 0 {
		return off, off, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.Parallel)
	for _, w := range want {
		g.Go(func() error {
			plain, err := e.getChunk(gctx, w.ref)
			if err != nil {
				return fetchError{err}
			}
			if _, err := dst.WriteAt(plain, w.pos); err != nil {
				return fmt.Errorf("write fetched chunk: %w", cache.MapError(err))
			}
			// Written, neither synced nor recorded as present.
			killpoint.Reach(killpoint.PointFetchMiddle)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err
	}
	last := want[len(want)-1]
	return want[0].pos, last.pos + last.ref.Len, nil
}

// fetchError is a chunk the store could not give. errors.Is sees through
// it (ErrTransient, ErrDamaged, context errors), errors.As does not: an
// errno from the network underneath (ECONNREFUSED with the store down)
// would otherwise reach the reader of a file as if the local disk had said
// it, where the contract is EIO.
type fetchError struct{ err error }

func (e fetchError) Error() string { return e.err.Error() }

// Is reports whether the underlying error is target.
func (e fetchError) Is(target error) bool { return errors.Is(e.err, target) }
