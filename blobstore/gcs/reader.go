package gcs

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

// errShortBody reports a Put body that ended before its declared size.
var errShortBody = errors.New("body shorter than its declared size")

// sizedReader reads body[0:size) and fails with errShortBody if body ends
// first. The SDK streams whatever it is given, so without this a short body
// would be stored as a short object.
type sizedReader struct {
	sr *io.SectionReader
}

func newSizedReader(body io.ReaderAt, size int64) *sizedReader {
	return &sizedReader{sr: io.NewSectionReader(body, 0, size)}
}

func (r *sizedReader) Read(p []byte) (int, error) {
	n, err := r.sr.Read(p)
	if errors.Is(err, io.EOF) {
		if pos, _ := r.sr.Seek(0, io.SeekCurrent); pos < r.sr.Size() {
			return n, fmt.Errorf("%w: %d of %d bytes", errShortBody, pos, r.sr.Size())
		}
	}
	return n, err
}
