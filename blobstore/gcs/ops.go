package gcs

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/iterator"

	"github.com/syncfs/syncfs/blobstore"
)

// Put stores body[0:size) under name, replacing any object there. GCS makes
// an upload visible only once it is complete, so readers never see a
// partial object.
func (s *Store) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	if err := s.put(ctx, s.object(name), name, body, size, false); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// PutIfAbsent is Put with the precondition ifGenerationMatch=0, so that GCS
// itself decides which of two racing writers wins; the loser gets
// blobstore.ErrExist.
func (s *Store) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	obj := s.object(name).If(storage.Conditions{DoesNotExist: true})
	if err := s.put(ctx, obj, name, body, size, true); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", name, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, obj *storage.ObjectHandle, name string, body io.ReaderAt, size int64, ifAbsent bool) error {
	if err := blobstore.CheckName(name); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("negative size %d", size)
	}
	// The CRC32C of the whole body goes with the upload and GCS refuses the
	// object if the bytes it got do not match. That is what makes Put
	// all-or-nothing: when the upload is cut short (a short body, a
	// cancelled context), the SDK's single-request path still closes the
	// multipart body cleanly, and without a checksum the truncated bytes
	// would be stored as the object. Reading the body first also finds a
	// short body before anything is sent.
	crc, err := checksum(body, size)
	if err != nil {
		return err
	}
	// Cancelling the writer's context is the SDK's way to abandon an
	// upload; Close would instead finish it.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := obj.NewWriter(wctx)
	w.ContentType = "application/octet-stream"
	w.CRC32C = crc
	w.SendCRC32C = true
	if size <= singleRequestMax {
		w.ChunkSize = 0 // one request, no buffer
	}
	_, err = io.Copy(w, newSizedReader(body, size))
	if err != nil {
		cancel()
	} else {
		err = w.Close()
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errShortBody):
		return err
	case ifAbsent && status(err) == 412:
		return blobstore.ErrExist
	}
	return mapErr(err)
}

// Get returns the bytes [off, off+length) of name (length < 0: to the end).
// The returned stream fails with io.ErrUnexpectedEOF if the object is
// shorter than asked.
func (s *Store) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	rc, err := s.get(ctx, name, off, length)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return rc, nil
}

func (s *Store) get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := blobstore.CheckName(name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("negative offset %d", off)
	}
	if length == 0 {
		// HTTP cannot ask for zero bytes; check the object exists and
		// that off is inside it, then return nothing.
		info, err := s.stat(ctx, name)
		if err != nil {
			return nil, err
		}
		if off > info.Size {
			return nil, beyondEnd(off, info.Size)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	r, err := s.object(name).NewRangeReader(ctx, off, length)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if status(err) == 416 {
			return s.rangeNotSatisfiable(ctx, name, off, length)
		}
		return nil, mapErr(err)
	}
	want := length
	if want < 0 {
		want = r.Remain() // -1 if unknown: then the transport checks
	}
	return &exactReader{rc: r, remain: want}, nil
}

// rangeNotSatisfiable tells apart, after a 416, an offset exactly at the end
// of the object (an empty read, as for a file; short if length > 0) from
// one past it (an error).
func (s *Store) rangeNotSatisfiable(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	info, err := s.stat(ctx, name)
	if err != nil {
		return nil, err
	}
	if off == info.Size {
		return &exactReader{rc: io.NopCloser(strings.NewReader("")), remain: max(length, 0)}, nil
	}
	return nil, beyondEnd(off, info.Size)
}

// Stat returns name's size and modification time, or blobstore.ErrNotExist.
func (s *Store) Stat(ctx context.Context, name string) (blobstore.Info, error) {
	info, err := s.stat(ctx, name)
	if err != nil {
		return blobstore.Info{}, fmt.Errorf("stat %s: %w", name, err)
	}
	return info, nil
}

func (s *Store) stat(ctx context.Context, name string) (blobstore.Info, error) {
	if err := blobstore.CheckName(name); err != nil {
		return blobstore.Info{}, err
	}
	attrs, err := s.object(name).Attrs(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return blobstore.Info{}, ctx.Err()
		}
		return blobstore.Info{}, mapErr(err)
	}
	return blobstore.Info{Name: name, Size: attrs.Size, ModTime: attrs.Updated}, nil
}

// List calls fn for every object whose name starts with prefix, in the
// lexical order GCS lists names in.
func (s *Store) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	q := &storage.Query{Prefix: s.prefix + prefix}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated"}); err != nil {
		return fmt.Errorf("list %q: %w", prefix, err)
	}
	it := s.bucket.Objects(ctx, q)
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("list %q: %w", prefix, ctx.Err())
			}
			return fmt.Errorf("list %q: %w", prefix, mapErr(err))
		}
		info := blobstore.Info{
			Name:    strings.TrimPrefix(attrs.Name, s.prefix),
			Size:    attrs.Size,
			ModTime: attrs.Updated,
		}
		if err := fn(info); err != nil {
			return err
		}
	}
}

// Delete removes name; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := blobstore.CheckName(name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	err := s.object(name).Delete(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("delete %s: %w", name, ctx.Err())
	}
	err = mapErr(err)
	if errors.Is(err, blobstore.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("delete %s: %w", name, err)
}

// checksum returns the CRC32C (Castagnoli) of body[0:size), or an error
// wrapping errShortBody if body ends first.
func checksum(body io.ReaderAt, size int64) (uint32, error) {
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	if _, err := io.Copy(h, newSizedReader(body, size)); err != nil {
		return 0, fmt.Errorf("read body: %w", err)
	}
	return h.Sum32(), nil
}

func beyondEnd(off, size int64) error {
	return fmt.Errorf("offset %d beyond end of %d-byte object", off, size)
}
