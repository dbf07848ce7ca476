package azure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/syncfs/syncfs/blobstore"
)

// Put stores body[0:size) under name, replacing any blob there. A large body
// is staged as blocks and becomes visible only when the block list is
// committed, so readers never see a partial object.
func (s *Store) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	if err := s.put(ctx, name, body, size, false); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// PutIfAbsent is Put with If-None-Match: "*", so that the service itself
// decides which of two racing writers wins; the loser gets
// blobstore.ErrExist.
func (s *Store) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	if err := s.put(ctx, name, body, size, true); err != nil {
		return fmt.Errorf("put-if-absent %s: %w", name, err)
	}
	return nil
}

func (s *Store) put(ctx context.Context, name string, body io.ReaderAt, size int64, ifAbsent bool) error {
	if err := blobstore.CheckName(name); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("negative size %d", size)
	}
	var cond *blob.AccessConditions
	if ifAbsent {
		// On a staged upload the condition is checked at the commit.
		cond = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{
			IfNoneMatch: to.Ptr(azcore.ETagAny),
		}}
	}
	headers := &blob.HTTPHeaders{BlobContentType: to.Ptr("application/octet-stream")}
	bb := s.client.NewBlockBlobClient(s.blobName(name))
	var err error
	if size <= singleRequestMax {
		// A fresh SectionReader is seekable, so the SDK can learn the
		// length and rewind; the caller's ReaderAt is never consumed. A
		// short body fails in the HTTP client (Content-Length mismatch).
		_, err = bb.Upload(ctx, streaming.NopCloser(io.NewSectionReader(body, 0, size)), &blockblob.UploadOptions{
			HTTPHeaders:      headers,
			AccessConditions: cond,
		})
	} else {
		_, err = bb.UploadStream(ctx, newSizedReader(body, size), &blockblob.UploadStreamOptions{
			BlockSize:        blockSize,
			Concurrency:      blockConcurrency,
			HTTPHeaders:      headers,
			AccessConditions: cond,
		})
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errShortBody):
		return err
	case ifAbsent && isConditionFailed(err):
		return blobstore.ErrExist
	}
	return mapErr(err)
}

// Get returns the bytes [off, off+length) of name (length < 0: to the end).
// The returned stream fails with io.ErrUnexpectedEOF if the blob is shorter
// than asked.
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
		// HTTPRange's Count 0 means "to the end"; check the blob exists
		// and that off is inside it, then return nothing.
		info, err := s.stat(ctx, name)
		if err != nil {
			return nil, err
		}
		if off > info.Size {
			return nil, beyondEnd(off, info.Size)
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	// Count 0 asks for everything from Offset; with Offset 0 too, no Range
	// header is sent, so an empty blob reads fine.
	rng := blob.HTTPRange{Offset: off, Count: max(length, 0)}
	resp, err := s.client.NewBlobClient(s.blobName(name)).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: rng})
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
		want = -1 // unknown: rely on the transport's own length check
		if resp.ContentLength != nil {
			want = *resp.ContentLength
		}
	}
	return &exactReader{rc: resp.Body, remain: want}, nil
}

// rangeNotSatisfiable tells apart, after a 416, an offset exactly at the end
// of the blob (an empty read, as for a file; short if length > 0) from one
// past it (an error).
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
	props, err := s.client.NewBlobClient(s.blobName(name)).GetProperties(ctx, nil)
	if err != nil {
		if ctx.Err() != nil {
			return blobstore.Info{}, ctx.Err()
		}
		return blobstore.Info{}, mapErr(err)
	}
	return blobstore.Info{
		Name:    name,
		Size:    deref(props.ContentLength),
		ModTime: deref(props.LastModified),
	}, nil
}

// List calls fn for every object whose name starts with prefix, in the
// lexical order the blob service lists names in.
func (s *Store) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	pager := s.client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{
		Prefix: to.Ptr(s.prefix + prefix),
	})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("list %q: %w", prefix, ctx.Err())
			}
			return fmt.Errorf("list %q: %w", prefix, mapErr(err))
		}
		if page.Segment == nil {
			continue
		}
		for _, item := range page.Segment.BlobItems {
			info := blobstore.Info{Name: strings.TrimPrefix(deref(item.Name), s.prefix)}
			if p := item.Properties; p != nil {
				info.Size = deref(p.ContentLength)
				info.ModTime = deref(p.LastModified)
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes name; a missing blob is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := blobstore.CheckName(name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	_, err := s.client.NewBlobClient(s.blobName(name)).Delete(ctx, nil)
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

func beyondEnd(off, size int64) error {
	return fmt.Errorf("offset %d beyond end of %d-byte object", off, size)
}

// deref returns *p, or the zero value (size 0, zero time) when the service
// left the field out.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
