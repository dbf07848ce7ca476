package gcs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"

	"github.com/syncfs/syncfs/blobstore"
)

// EnvEmulatorHost is the variable the SDK reads to talk to an emulator
// instead of Google (host:port or a URL, no credentials).
const EnvEmulatorHost = "STORAGE_EMULATOR_HOST"

// singleRequestMax is the largest body sent in one upload request; larger
// ones use a resumable upload in chunks of the SDK's default size. One
// request needs no buffer, and syncfs's chunks and journal batches are far
// smaller than this.
const singleRequestMax = 16 << 20

// Options says which bucket to use.
type Options struct {
	Bucket string // required
	Prefix string // object-name prefix inside the bucket; "/" is appended if missing

	// ClientOptions are passed to storage.NewClient, for credentials or an
	// endpoint other than the defaults (ADC, or STORAGE_EMULATOR_HOST).
	ClientOptions []option.ClientOption
}

// ErrNoBucket reports that the configured bucket does not exist. It is kept
// apart from blobstore.ErrNotExist on purpose: a missing bucket must never
// look like a missing object.
var ErrNoBucket = errors.New("bucket does not exist")

// Store is a blobstore.Store backed by one GCS bucket (and optional prefix).
type Store struct {
	client *storage.Client
	bucket *storage.BucketHandle
	name   string // bucket name, for messages
	prefix string
	where  string // emulator address or "Google", for messages
}

var _ blobstore.Store = (*Store)(nil)

// Open connects to the bucket described by opts and reads its attributes,
// so that a missing bucket, bad credentials or an unreachable endpoint are
// reported at once, naming the bucket. Close releases the client.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Check(ctx); err != nil {
		_ = s.Close() // the Check error is the one worth reporting
		return nil, err
	}
	return s, nil
}

// New builds a Store like Open but sends no request; call Check to find out
// whether the bucket is usable.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		return nil, errors.New("open gcs store: no bucket given")
	}
	client, err := storage.NewClient(ctx, opts.ClientOptions...)
	if err != nil {
		return nil, fmt.Errorf("open gcs bucket %q: %w", opts.Bucket, err)
	}
	// blobstore's retry wrapper owns retrying; the SDK's own loop would
	// stack under it and delay a clear failure.
	client.SetRetry(storage.WithPolicy(storage.RetryNever))
	where := "Google"
	if h := os.Getenv(EnvEmulatorHost); h != "" {
		where = "emulator " + h
	}
	return &Store{
		client: client,
		bucket: client.Bucket(opts.Bucket),
		name:   opts.Bucket,
		prefix: normPrefix(opts.Prefix),
		where:  where,
	}, nil
}

// Check reads the bucket's attributes and reports, naming the bucket, why
// the store cannot be used: unreachable endpoint (wraps
// blobstore.ErrTransient), bad credentials (blobstore.ErrPermission) or a
// missing bucket (ErrNoBucket).
func (s *Store) Check(ctx context.Context) error {
	_, err := s.bucket.Attrs(ctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("check gcs bucket %q at %s: %w", s.name, s.where, ctx.Err())
	}
	err = mapErr(err)
	if errors.Is(err, blobstore.ErrNotExist) {
		err = ErrNoBucket
	}
	return fmt.Errorf("check gcs bucket %q at %s: %w", s.name, s.where, err)
}

// Close releases the client's connections.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close gcs client: %w", err)
	}
	return nil
}

// object returns the handle of a store name.
func (s *Store) object(name string) *storage.ObjectHandle {
	return s.bucket.Object(s.prefix + name)
}

// normPrefix makes a non-empty prefix end in exactly one "/", so that "a"
// and "a/" name the same store and a store never sees a sibling's objects.
func normPrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}
