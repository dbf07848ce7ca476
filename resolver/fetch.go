package resolver

import (
	"context"
	"fmt"
	"io"

	"github.com/syncfs/syncfs/cache"
)

var _ cache.Fetcher = (*Engine)(nil)

// Fetch fills [off, off+n) of a file version into dst, in whole chunks, and
// returns the range written.
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
	start, end := int64(-1), int64(0)
	var pos int64
	for _, ref := range c.Chunks {
		cEnd := pos + ref.Len
		if cEnd > off && pos < off+n {
			plain, err := e.getChunk(ctx, ref)
			if err != nil {
				return 0, 0, err
			}
			if _, err := dst.WriteAt(plain, pos); err != nil {
				return 0, 0, cache.MapError(err)
			}
			if start < 0 {
				start = pos
			}
			end = cEnd
		}
		pos = cEnd
		if pos >= off+n {
			break
		}
	}
	if start < 0 {
		return off, off, nil
	}
	return start, end, nil
}
