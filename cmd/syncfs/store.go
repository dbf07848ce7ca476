package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/azure"
	"github.com/syncfs/syncfs/blobstore/gcs"
	"github.com/syncfs/syncfs/blobstore/local"
	"github.com/syncfs/syncfs/blobstore/s3"
	"github.com/syncfs/syncfs/resolver"
)

var errStoreLocation = errors.New("bad store")

// storeOptions are the flags that say where the store is.
type storeOptions struct {
	URL       string
	Endpoint  string
	PathStyle bool
}

func (o *storeOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.URL, "store", "", "store location: a directory, file:///dir, s3://bucket/prefix, gs://bucket/prefix or azblob://container/prefix")
	f.StringVar(&o.Endpoint, "endpoint", "", "S3-compatible endpoint URL (MinIO, Ceph, R2, ...)")
	f.BoolVar(&o.PathStyle, "path-style", false, "S3: bucket in the URL path (most S3-compatible services)")
}

// openStore opens the store named by the flags; create makes a missing
// local directory (for init). Backends are listed here explicitly.
func openStore(ctx context.Context, o storeOptions, create bool) (blobstore.Store, blobstore.Location, error) {
	if o.URL == "" {
		return nil, blobstore.Location{}, usageError{errors.New("--store is required")}
	}
	loc, err := blobstore.ParseURL(o.URL)
	if err != nil {
		return nil, loc, usageError{err}
	}
	var s blobstore.Store
	switch loc.Scheme {
	case blobstore.SchemeFile:
		if create {
			s, err = local.Create(loc.Path, local.Options{})
		} else {
			s, err = local.Open(loc.Path, local.Options{})
		}
	case blobstore.SchemeS3:
		s, err = s3.Open(ctx, s3.Options{Bucket: loc.Bucket, Prefix: loc.Prefix, Endpoint: o.Endpoint, PathStyle: o.PathStyle || o.Endpoint != ""})
	case blobstore.SchemeGCS:
		s, err = gcs.Open(ctx, gcs.Options{Bucket: loc.Bucket, Prefix: loc.Prefix})
	case blobstore.SchemeAzBlob:
		ao := azure.OptionsFromEnv()
		ao.Container, ao.Prefix = loc.Bucket, loc.Prefix
		s, err = azure.Open(ctx, ao)
	default:
		err = fmt.Errorf("scheme %q not supported", loc.Scheme)
	}
	if err != nil {
		return nil, loc, fmt.Errorf("%w %s: %w", errStoreLocation, loc, err)
	}
	return s, loc, nil
}

// withRetry wraps a store for long-running use.
func withRetry(s blobstore.Store, log *slog.Logger) blobstore.Store {
	return blobstore.NewRetry(s, blobstore.RetryOptions{Logger: log})
}

// defaultCacheDir is a per-store directory under the user's cache dir,
// named by a hash of the store's canonical location.
func defaultCacheDir(loc blobstore.Location) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache directory (use --cache-dir): %w", err)
	}
	h := sha256.Sum256([]byte(loc.String()))
	return filepath.Join(base, "syncfs", hex.EncodeToString(h[:8])), nil
}

// storeAccess says how a command reaches a store without a mount: where
// it is and how to unlock it (--store and the passphrase flags).
type storeAccess struct {
	store      storeOptions
	passphrase passphraseOptions
}

// addFlags adds --store, its options and the passphrase flags to f.
func (a *storeAccess) addFlags(f *pflag.FlagSet) {
	a.store.addFlags(f)
	a.passphrase.addFlags(f)
}

// openRepo opens and unlocks the store given with --store, with the retry
// wrapper every store command uses.
func (a storeAccess) openRepo(ctx context.Context) (*resolver.Repo, error) {
	s, _, err := openStore(ctx, a.store, false)
	if err != nil {
		return nil, err
	}
	pass, err := a.passphrase.get(false)
	if err != nil {
		return nil, err
	}
	return resolver.Open(ctx, withRetry(s, slog.New(slog.DiscardHandler)), pass)
}

// withView opens the store given with --store, rebuilds its newest tree
// in a scratch view (the newest checkpoint and every journal batch after
// it; see resolver.OpenView) and runs f on it. The view is removed
// afterwards. A write through it is made as the view's own device.
func withView(ctx context.Context, a storeAccess, f func(*resolver.View) error) error {
	repo, err := a.openRepo(ctx)
	if err != nil {
		return err
	}
	v, err := resolver.OpenView(ctx, repo, resolver.ViewOptions{Engine: resolver.Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		return err
	}
	defer v.Close()
	return f(v)
}
