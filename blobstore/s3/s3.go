package s3

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/syncfs/syncfs/blobstore"
)

// Defaults for the multipart upload of large bodies.
const (
	// DefaultPartSize is the multipart part size used when Options.PartSize
	// is zero. Bodies up to this size go up in one PutObject.
	DefaultPartSize = 16 << 20
	// DefaultConcurrency is the number of parts of one body sent at once
	// when Options.Concurrency is zero.
	DefaultConcurrency = 4
	// defaultRegion is used when neither Options nor the SDK's config
	// chain names one: S3-compatible services accept any region, and AWS
	// needs one to sign requests at all.
	defaultRegion = "us-east-1"
)

// Options says which bucket to use and how to reach it.
type Options struct {
	Bucket    string // required
	Prefix    string // key prefix inside the bucket; "/" is appended if missing
	Endpoint  string // base URL of an S3-compatible service; empty for AWS
	Region    string // empty: from the SDK's config chain, else us-east-1
	PathStyle bool   // bucket in the URL path rather than the host name

	// AccessKeyID and SecretAccessKey, when both are set, replace the SDK's
	// credential chain with this static key pair.
	AccessKeyID     string
	SecretAccessKey string

	PartSize    int64 // multipart part size; 0 means DefaultPartSize
	Concurrency int   // parts in flight per upload; 0 means DefaultConcurrency
}

// ErrNoBucket reports that the configured bucket does not exist. It is kept
// apart from blobstore.ErrNotExist on purpose: a missing bucket must never
// look like a missing object (a puller would take it for "no new journal").
var ErrNoBucket = errors.New("bucket does not exist")

// Store is a blobstore.Store backed by one S3 bucket (and optional prefix).
type Store struct {
	client   *awss3.Client
	uploader *manager.Uploader
	bucket   string
	prefix   string
	where    string // endpoint or "AWS", for error messages
}

var _ blobstore.Store = (*Store)(nil)

// Open connects to the bucket described by opts and checks, with one
// small listing (see Check), that it exists and that the credentials may use it.
// Any failure names the bucket and its cause, so a typo in the URL or a
// stale key is reported at mount time rather than at the first upload.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s, err := New(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Check(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// New builds a Store like Open but sends no request; call Check to find out
// whether the bucket is usable.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.Bucket == "" {
		return nil, errors.New("open s3 store: no bucket given")
	}
	where := opts.Endpoint
	if where == "" {
		where = "AWS"
	}
	loadOpts := []func(*config.LoadOptions) error{
		// blobstore's retry wrapper owns retrying; the SDK's own loop would
		// stack under it and delay a clear failure.
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		// Flexible checksums (CRC trailers) are not understood by every
		// S3-compatible service, and every syncfs object is already
		// authenticated end to end by AES-GCM, so only send them when the
		// operation requires one.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.AccessKeyID != "" || opts.SecretAccessKey != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket %q: load aws config: %w", opts.Bucket, err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.UsePathStyle = opts.PathStyle
		// The payload stays signed (SigV4 hashes every body with SHA-256)
		// although it costs CPU and syncfs objects are AES-GCM sealed
		// anyway: the server checks the hash, and that is what stops a
		// body cut off halfway from being stored as a whole object by
		// servers that do not enforce Content-Length (versitygw does
		// not; see TestAbortedUploadLeavesNothing).
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	})
	partSize := opts.PartSize
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	uploader := manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = partSize
		u.Concurrency = conc
	})
	return &Store{
		client:   client,
		uploader: uploader,
		bucket:   opts.Bucket,
		prefix:   normPrefix(opts.Prefix),
		where:    where,
	}, nil
}

// Check lists at most one key of the store and reports, naming the bucket,
// why the store cannot be used: unreachable endpoint (wraps
// blobstore.ErrTransient), bad credentials (blobstore.ErrPermission) or a
// missing bucket (ErrNoBucket). It lists rather than sending HeadBucket
// because a HEAD answer has no body, hence no error code, and servers differ
// in the bare status they give a bad key (versitygw says 404, as for a
// missing bucket). Listing needs the same s3:ListBucket permission.
func (s *Store) Check(ctx context.Context) error {
	_, err := s.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(s.prefix),
		MaxKeys: aws.Int32(1),
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("check s3 bucket %q at %s: %w", s.bucket, s.where, ctx.Err())
	}
	err = mapErr(err)
	if errors.Is(err, blobstore.ErrNotExist) {
		// A 404 without a code on a bucket-level request.
		err = ErrNoBucket
	}
	return fmt.Errorf("check s3 bucket %q at %s: %w", s.bucket, s.where, err)
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// key turns a store name into the object key in the bucket.
func (s *Store) key(name string) *string { return aws.String(s.prefix + name) }

// normPrefix makes a non-empty prefix end in exactly one "/", so that "a"
// and "a/" name the same store and a store never sees a sibling's keys.
func normPrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}
