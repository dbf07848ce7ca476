package blobstore

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// Store location schemes ParseURL accepts.
const (
	SchemeFile   = "file"
	SchemeS3     = "s3"
	SchemeGCS    = "gs"
	SchemeAzBlob = "azblob"
)

// Location is a parsed store address: a local directory, or a bucket (a
// container, for Azure) and a prefix inside it.
type Location struct {
	Scheme string // one of the Scheme constants
	Bucket string // bucket or container name; empty for "file"
	Prefix string // object-name prefix in the bucket, without leading or trailing "/"; may be empty
	Path   string // absolute, clean directory for "file"; empty otherwise
}

// ParseURL parses a store address: a bare path (made absolute against
// the working directory), file:///abs/path, s3://bucket/prefix,
// gs://bucket/prefix or azblob://container/prefix. It rejects unknown
// schemes, a file URL naming a host, a missing bucket, user info, ports,
// queries and fragments, and prefixes that are not valid object names.
func ParseURL(s string) (Location, error) {
	if s == "" {
		return Location{}, fmt.Errorf("empty store location")
	}
	scheme, _, hasColon := strings.Cut(s, ":")
	if !strings.Contains(s, "://") && !(hasColon && isScheme(strings.ToLower(scheme))) {
		// A plain path, even one with a colon in it ("backup:2024").
		abs, err := filepath.Abs(s)
		if err != nil {
			return Location{}, fmt.Errorf("store path %s: %w", s, err)
		}
		return Location{Scheme: SchemeFile, Path: abs}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("store location: %w", err)
	}
	switch {
	case !isScheme(u.Scheme):
		return Location{}, fmt.Errorf("store location %q: unknown scheme %q (want a path, file://, s3://, gs:// or azblob://)", s, u.Scheme)
	case u.Opaque != "":
		return Location{}, fmt.Errorf("store location %q: want %s://...", s, u.Scheme)
	case u.User != nil:
		// Not echoed: the text holds a secret.
		return Location{}, fmt.Errorf("store location %s://...: credentials do not belong in the URL; use the SDK's own chain", u.Scheme)
	case u.RawQuery != "" || u.ForceQuery:
		return Location{}, fmt.Errorf("store location %q: unexpected query", s)
	case u.Fragment != "":
		return Location{}, fmt.Errorf("store location %q: unexpected fragment (write %%23 for '#')", s)
	}
	if u.Scheme == SchemeFile {
		switch {
		case u.Host != "":
			return Location{}, fmt.Errorf("store location %q: file URL names host %q; want file:///absolute/path", s, u.Host)
		case u.Path == "":
			return Location{}, fmt.Errorf("store location %q: file URL has no path", s)
		}
		return Location{Scheme: SchemeFile, Path: filepath.Clean(u.Path)}, nil
	}
	if u.Port() != "" || strings.HasSuffix(u.Host, ":") {
		return Location{}, fmt.Errorf("store location %q: a bucket name has no port", s)
	}
	if u.Host == "" {
		return Location{}, fmt.Errorf("store location %q: no bucket; want %s://bucket/prefix", s, u.Scheme)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := CheckName(prefix); err != nil {
			return Location{}, fmt.Errorf("store location %q: prefix: %w", s, err)
		}
	}
	return Location{Scheme: u.Scheme, Bucket: u.Host, Prefix: prefix}, nil
}

func isScheme(s string) bool {
	switch s {
	case SchemeFile, SchemeS3, SchemeGCS, SchemeAzBlob:
		return true
	}
	return false
}

// String returns the canonical form of the location, which ParseURL
// parses back to the same Location: file:///abs/path or
// scheme://bucket/prefix, with characters escaped as URLs need.
func (l Location) String() string {
	if l.Scheme == SchemeFile {
		return (&url.URL{Scheme: SchemeFile, Path: l.Path}).String()
	}
	u := url.URL{Scheme: l.Scheme, Host: l.Bucket}
	if l.Prefix != "" {
		u.Path = "/" + l.Prefix
	}
	return u.String()
}

// Prefixed returns a Store that keeps every object of s under prefix:
// object "x" is "prefix/x" in s, and List reports names without the
// prefix. Leading and trailing slashes of prefix are ignored; an empty
// prefix returns s itself. Names are checked with CheckName first, so none
// can reach outside the prefix.
func Prefixed(s Store, prefix string) Store {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return s
	}
	return &prefixed{inner: s, prefix: prefix + "/"}
}

type prefixed struct {
	inner  Store
	prefix string // ends in "/"
}

// Unwrap returns the store that holds the prefixed names.
func (p *prefixed) Unwrap() Store { return p.inner }

func (p *prefixed) full(name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	return p.prefix + name, nil
}

// Put stores body under the prefixed name.
func (p *prefixed) Put(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	full, err := p.full(name)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	return p.inner.Put(ctx, full, body, size)
}

// PutIfAbsent stores body under the prefixed name unless it exists.
func (p *prefixed) PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error {
	full, err := p.full(name)
	if err != nil {
		return fmt.Errorf("put-if-absent: %w", err)
	}
	return p.inner.PutIfAbsent(ctx, full, body, size)
}

// Get reads a range of the prefixed object.
func (p *prefixed) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	full, err := p.full(name)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	return p.inner.Get(ctx, full, off, length)
}

// Stat returns the prefixed object's Info, named without the prefix.
func (p *prefixed) Stat(ctx context.Context, name string) (Info, error) {
	full, err := p.full(name)
	if err != nil {
		return Info{}, fmt.Errorf("stat: %w", err)
	}
	info, err := p.inner.Stat(ctx, full)
	info.Name = strings.TrimPrefix(info.Name, p.prefix)
	return info, err
}

// List lists the objects under the prefix, named without it.
func (p *prefixed) List(ctx context.Context, prefix string, fn func(Info) error) error {
	return p.inner.List(ctx, p.prefix+prefix, func(info Info) error {
		info.Name = strings.TrimPrefix(info.Name, p.prefix)
		return fn(info)
	})
}

// Delete removes the prefixed object.
func (p *prefixed) Delete(ctx context.Context, name string) error {
	full, err := p.full(name)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return p.inner.Delete(ctx, full)
}
