package s3

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/syncfs/syncfs/blobstore"
)

// exactReader passes through exactly remain bytes of rc, or, when remain is
// negative (length unknown), whatever rc gives. An end of stream before
// remain bytes becomes io.ErrUnexpectedEOF, as blobstore.Store requires of
// a short ranged read, and other read failures (a connection reset halfway)
// wrap blobstore.ErrTransient.
type exactReader struct {
	rc     io.ReadCloser
	remain int64
}

func (r *exactReader) Read(p []byte) (int, error) {
	if r.remain == 0 {
		return 0, io.EOF
	}
	if r.remain > 0 && int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.rc.Read(p)
	if r.remain > 0 {
		r.remain -= int64(n)
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, io.ErrUnexpectedEOF
	case errors.Is(err, io.EOF):
		if r.remain > 0 {
			return n, io.ErrUnexpectedEOF
		}
		return n, io.EOF
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return n, err
	default:
		return n, fmt.Errorf("read body: %w: %w", blobstore.ErrTransient, err)
	}
}

func (r *exactReader) Close() error { return r.rc.Close() }
