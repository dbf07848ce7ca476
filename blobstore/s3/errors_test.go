package s3

import (
	"errors"
	"net"
	"net/http"
	"testing"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/syncfs/syncfs/blobstore"
)

// apiErr builds the error chain the SDK returns for an answer with status
// and (if not empty) an S3 error code.
func apiErr(status int, code string) error {
	inner := error(&smithy.GenericAPIError{Code: code, Message: "test"})
	if code == "" {
		inner = errors.New("no body")
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      inner,
		},
	}}
}

// sentinels are every error mapErr may map to; each case must match exactly
// one (or none, for errors no sentinel describes).
var sentinels = []error{blobstore.ErrNotExist, blobstore.ErrPermission, blobstore.ErrTransient, ErrNoBucket}

func TestMapErr(t *testing.T) {
	refused := &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &smithyhttp.RequestSendError{
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")},
	}}
	noCreds := &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: &v4.SigningError{
		Err: errors.New("failed to retrieve credentials"),
	}}
	for _, tc := range []struct {
		name string
		err  error
		want error // nil: no sentinel
	}{
		{"NoSuchKey", apiErr(404, "NoSuchKey"), blobstore.ErrNotExist},
		{"Bare404", apiErr(404, ""), blobstore.ErrNotExist},
		{"NoSuchBucket", apiErr(404, "NoSuchBucket"), ErrNoBucket},
		{"AccessDenied", apiErr(403, "AccessDenied"), blobstore.ErrPermission},
		{"InvalidAccessKeyId", apiErr(403, "InvalidAccessKeyId"), blobstore.ErrPermission},
		{"SignatureDoesNotMatch", apiErr(403, "SignatureDoesNotMatch"), blobstore.ErrPermission},
		{"Bare403", apiErr(403, ""), blobstore.ErrPermission},
		{"VersitygwUnknownKey", apiErr(404, "XAdminUserNotFound"), blobstore.ErrPermission},
		{"SlowDown", apiErr(503, "SlowDown"), blobstore.ErrTransient},
		{"InternalError", apiErr(500, "InternalError"), blobstore.ErrTransient},
		{"Bare502", apiErr(502, ""), blobstore.ErrTransient},
		{"TooManyRequests", apiErr(429, ""), blobstore.ErrTransient},
		{"RequestTimeout", apiErr(400, "RequestTimeout"), blobstore.ErrTransient},
		{"OperationAborted", apiErr(409, "OperationAborted"), blobstore.ErrTransient},
		{"ConnectionRefused", refused, blobstore.ErrTransient},
		{"NoCredentials", noCreds, blobstore.ErrPermission},
		{"InvalidArgument", apiErr(400, "InvalidArgument"), nil},
		{"SkewedClock", apiErr(403, "RequestTimeTooSkewed"), blobstore.ErrPermission},
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
		{"PreconditionFailed", apiErr(412, "PreconditionFailed"), true},
		{"Bare412", apiErr(412, ""), true},
		{"ConditionalRequestConflict", apiErr(409, "ConditionalRequestConflict"), true},
		{"OperationAborted", apiErr(409, "OperationAborted"), false},
		{"NotFound", apiErr(404, "NoSuchKey"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := isConditionFailed(tc.err); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
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
