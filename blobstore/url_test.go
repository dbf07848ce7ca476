package blobstore_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/blobstore/storetest"
)

func TestParseURL(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	for _, tc := range []struct {
		in        string
		want      blobstore.Location
		canonical string
	}{
		{"/srv/store", blobstore.Location{Scheme: "file", Path: "/srv/store"}, "file:///srv/store"},
		{"/srv/store/", blobstore.Location{Scheme: "file", Path: "/srv/store"}, "file:///srv/store"},
		{"rel/store", blobstore.Location{Scheme: "file", Path: filepath.Join(wd, "rel/store")}, "file://" + filepath.Join(wd, "rel/store")},
		{".", blobstore.Location{Scheme: "file", Path: wd}, "file://" + wd},
		{"backup:2024", blobstore.Location{Scheme: "file", Path: filepath.Join(wd, "backup:2024")}, "file://" + filepath.Join(wd, "backup:2024")},
		{"file:///srv/store", blobstore.Location{Scheme: "file", Path: "/srv/store"}, "file:///srv/store"},
		{"file:///srv/my%20store", blobstore.Location{Scheme: "file", Path: "/srv/my store"}, "file:///srv/my%20store"},
		{"file:/srv/store", blobstore.Location{Scheme: "file", Path: "/srv/store"}, "file:///srv/store"},
		{"FILE:///srv", blobstore.Location{Scheme: "file", Path: "/srv"}, "file:///srv"},
		{"s3://bucket/photos", blobstore.Location{Scheme: "s3", Bucket: "bucket", Prefix: "photos"}, "s3://bucket/photos"},
		{"s3://bucket/a/b/", blobstore.Location{Scheme: "s3", Bucket: "bucket", Prefix: "a/b"}, "s3://bucket/a/b"},
		{"s3://bucket", blobstore.Location{Scheme: "s3", Bucket: "bucket"}, "s3://bucket"},
		{"s3://bucket/", blobstore.Location{Scheme: "s3", Bucket: "bucket"}, "s3://bucket"},
		{"gs://my-bucket/x", blobstore.Location{Scheme: "gs", Bucket: "my-bucket", Prefix: "x"}, "gs://my-bucket/x"},
		{"azblob://container/p/q", blobstore.Location{Scheme: "azblob", Bucket: "container", Prefix: "p/q"}, "azblob://container/p/q"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := blobstore.ParseURL(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if s := got.String(); s != tc.canonical {
				t.Fatalf("String: %q, want %q", s, tc.canonical)
			}
			again, err := blobstore.ParseURL(got.String())
			if err != nil || again != got {
				t.Fatalf("canonical form parses to %+v, %v", again, err)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"ftp://host/x",
		"http://bucket/x",
		"file://host/srv/store",
		"file://localhost/srv/store",
		"file://",
		"file:relative",
		"s3:bucket/x",
		"s3://",
		"s3:///prefix",
		"gs:///prefix",
		"azblob://",
		"s3://key:secret@bucket/x",
		"s3://bucket:9000/x",
		"s3://bucket/x?region=eu",
		"s3://bucket/x#frag",
		"s3://bucket/a/../b",
		"s3://bucket/a//b",
	} {
		t.Run(in, func(t *testing.T) {
			if got, err := blobstore.ParseURL(in); err == nil {
				t.Fatalf("accepted as %+v", got)
			}
		})
	}
}

func TestPrefixed(t *testing.T) {
	t.Run("Conformance", func(t *testing.T) {
		storetest.RunWithOptions(t, func(t *testing.T) blobstore.Store {
			inner := newMemStore()
			// Neighbours of the prefix must stay invisible.
			for _, name := range []string{"photos", "photos2/x", "photosx", "aaa", "zzz"} {
				if err := blobstore.PutBytes(t.Context(), inner, name, nil); err != nil {
					t.Fatal(err)
				}
			}
			return blobstore.Prefixed(inner, "/photos/")
		}, wrapperSuite)
	})
	inner := newMemStore()
	p := blobstore.Prefixed(inner, "a/b")
	ctx := t.Context()
	if err := blobstore.PutBytes(ctx, p, "chunks/1", []byte("1")); err != nil {
		t.Fatal(err)
	}
	t.Run("InnerNames", func(t *testing.T) {
		var names []string
		_ = inner.List(ctx, "", func(info blobstore.Info) error { names = append(names, info.Name); return nil })
		if !slices.Equal(names, []string{"a/b/chunks/1"}) {
			t.Fatalf("inner store holds %q", names)
		}
		info, err := p.Stat(ctx, "chunks/1")
		if err != nil || info.Name != "chunks/1" {
			t.Fatalf("stat: %+v, %v", info, err)
		}
	})
	t.Run("NoEscape", func(t *testing.T) {
		for _, name := range []string{"../x", "", "/x", "x/../../y"} {
			if err := blobstore.PutBytes(ctx, p, name, nil); !errors.Is(err, blobstore.ErrBadName) {
				t.Errorf("put %q: got %v, want ErrBadName", name, err)
			}
		}
	})
	t.Run("EmptyPrefix", func(t *testing.T) {
		if blobstore.Prefixed(inner, "/") != blobstore.Store(inner) {
			t.Fatal("an empty prefix should return the store itself")
		}
	})
	t.Run("Unwrap", func(t *testing.T) {
		u, ok := p.(interface{ Unwrap() blobstore.Store })
		if !ok || u.Unwrap() != inner {
			t.Fatal("Unwrap does not return the wrapped store")
		}
	})
}
