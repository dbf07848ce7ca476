package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/syncfs/syncfs/blobstore"
)

// Put stores body[0:size) under name, replacing any object there. Bodies
// larger than the part size go up as a multipart upload, which S3 makes
// visible only when it completes, so readers never see a partial object.
func (s *Store) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	if err := s.put(ctx, name, body, size, false); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return nil
}

// PutIfAbsent is Put with If-None-Match: "*", so that S3 itself decides
// which of two racing writers wins; the loser gets blobstore.ErrExist.
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
	in := &awss3.PutObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    s.key(name),
		// A fresh SectionReader is seekable, so the SDK can hash the body
		// and rewind it; the caller's ReaderAt itself is never consumed.
		Body:          io.NewSectionReader(body, 0, size),
		ContentLength: aws.Int64(size),
		ContentType:   aws.String("application/octet-stream"),
	}
	if ifAbsent {
		// The uploader copies this onto CompleteMultipartUpload as well,
		// so large bodies keep the same create-if-absent guarantee.
		in.IfNoneMatch = aws.String("*")
	}
	_, err := s.uploader.Upload(ctx, in)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if ifAbsent && isConditionFailed(err) {
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
	in := &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: s.key(name)}
	// Without a Range header an empty object reads fine; "bytes=0-" on it
	// would be answered 416.
	if off > 0 || length > 0 {
		in.Range = aws.String(httpRange(off, length))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if code(err) == "InvalidRange" || status(err) == 416 {
			return s.rangeNotSatisfiable(ctx, name, off, length)
		}
		return nil, mapErr(err)
	}
	want := length
	if want < 0 {
		want = -1 // unknown: rely on the transport's own length check
		if out.ContentLength != nil {
			want = *out.ContentLength
		}
	}
	return &exactReader{rc: out.Body, remain: want}, nil
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
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: s.key(name)})
	if err != nil {
		if ctx.Err() != nil {
			return blobstore.Info{}, ctx.Err()
		}
		return blobstore.Info{}, mapErr(err)
	}
	return blobstore.Info{
		Name:    name,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
	}, nil
}

// List calls fn for every object whose name starts with prefix, in the
// lexical (UTF-8 byte) order S3 lists keys in.
func (s *Store) List(ctx context.Context, prefix string, fn func(blobstore.Info) error) error {
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("list %q: %w", prefix, ctx.Err())
			}
			return fmt.Errorf("list %q: %w", prefix, mapErr(err))
		}
		for _, obj := range page.Contents {
			info := blobstore.Info{
				Name:    strings.TrimPrefix(aws.ToString(obj.Key), s.prefix),
				Size:    aws.ToInt64(obj.Size),
				ModTime: aws.ToTime(obj.LastModified),
			}
			if err := fn(info); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes name; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := blobstore.CheckName(name); err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: s.key(name)})
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

// httpRange renders an HTTP Range header value for [off, off+length), or
// from off to the end when length < 0.
func httpRange(off, length int64) string {
	if length < 0 {
		return fmt.Sprintf("bytes=%d-", off)
	}
	return fmt.Sprintf("bytes=%d-%d", off, off+length-1)
}

func beyondEnd(off, size int64) error {
	return fmt.Errorf("offset %d beyond end of %d-byte object", off, size)
}
