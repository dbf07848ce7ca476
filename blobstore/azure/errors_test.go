package azure

import (
	"errors"
	"net"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/syncfs/syncfs/blobstore"
)

// sentinels are every error mapErr may map to; each case must match exactly
// one (or none, for errors no sentinel describes).
var sentinels = []error{blobstore.ErrNotExist, blobstore.ErrPermission, blobstore.ErrTransient, ErrNoContainer}

func respErr(status int, code string) error {
	return &azcore.ResponseError{StatusCode: status, ErrorCode: code}
}

func TestMapErr(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: no sentinel
	}{
		{"BlobNotFound", respErr(404, "BlobNotFound"), blobstore.ErrNotExist},
		{"Bare404", respErr(404, ""), blobstore.ErrNotExist},
		{"ContainerNotFound", respErr(404, "ContainerNotFound"), ErrNoContainer},
		{"AuthenticationFailed", respErr(403, "AuthenticationFailed"), blobstore.ErrPermission},
		{"AuthorizationPermissionMismatch", respErr(403, "AuthorizationPermissionMismatch"), blobstore.ErrPermission},
		{"Bare401", respErr(401, ""), blobstore.ErrPermission},
		{"TokenFailed", &azidentity.AuthenticationFailedError{}, blobstore.ErrPermission},
		{"ServerBusy", respErr(503, "ServerBusy"), blobstore.ErrTransient},
		{"OperationTimedOut", respErr(500, "OperationTimedOut"), blobstore.ErrTransient},
		{"TooManyRequests", respErr(429, ""), blobstore.ErrTransient},
		{"ConnectionRefused", refused, blobstore.ErrTransient},
		{"InvalidHeaderValue", respErr(400, "InvalidHeaderValue"), nil},
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

func TestIsConditionFailed(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"BlobAlreadyExists", respErr(409, "BlobAlreadyExists"), true},
		{"ConditionNotMet", respErr(412, "ConditionNotMet"), true},
		{"Bare412", respErr(412, ""), true},
		{"LeaseConflict", respErr(409, "LeaseIdMissing"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isConditionFailed(tc.err); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestServiceURL(t *testing.T) {
	got := serviceURL("http://127.0.0.1:10000/devstoreaccount1/box?sv=secret")
	if want := "http://127.0.0.1:10000/devstoreaccount1/"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
