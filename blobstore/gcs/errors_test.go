package gcs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/syncfs/syncfs/blobstore"
)

// sentinels are every error mapErr may map to; each case must match exactly
// one (or none, for errors no sentinel describes).
var sentinels = []error{blobstore.ErrNotExist, blobstore.ErrPermission, blobstore.ErrTransient, ErrNoBucket}

func TestMapErr(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: no sentinel
	}{
		{"ObjectNotExist", fmt.Errorf("x: %w", storage.ErrObjectNotExist), blobstore.ErrNotExist},
		{"Bare404", &googleapi.Error{Code: 404}, blobstore.ErrNotExist},
		{"BucketNotExist", storage.ErrBucketNotExist, ErrNoBucket},
		{"Unauthorized", &googleapi.Error{Code: 401}, blobstore.ErrPermission},
		{"Forbidden", &googleapi.Error{Code: 403}, blobstore.ErrPermission},
		{"RequestTimeout", &googleapi.Error{Code: 408}, blobstore.ErrTransient},
		{"TooManyRequests", &googleapi.Error{Code: 429}, blobstore.ErrTransient},
		{"ServiceUnavailable", &googleapi.Error{Code: 503}, blobstore.ErrTransient},
		{"ConnectionRefused", refused, blobstore.ErrTransient},
		{"BadRequest", &googleapi.Error{Code: 400}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mapErr(tc.err)
			for _, s := range sentinels {
				if errors.Is(got, s) != (s == tc.want) {
					t.Errorf("mapErr(%v) = %v: errors.Is(%v) = %v", tc.err, got, s, errors.Is(got, s))
				}
			}
			if tc.want == blobstore.ErrTransient && !blobstore.IsTransient(got) {
				t.Errorf("blobstore.IsTransient(%v) = false", got)
			}
		})
	}
}

func TestNormPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "/": "", "a": "a/", "a/": "a/", "/a/b/": "a/b/", "a//": "a/",
	} {
		if got := normPrefix(in); got != want {
			t.Errorf("normPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
