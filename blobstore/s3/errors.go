package s3

import (
	"errors"
	"fmt"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/syncfs/syncfs/blobstore"
)

// Error codes S3 and compatible services send, grouped by the sentinel they
// map to. One table, so every operation classifies the same way.
var (
	permissionCodes = map[string]bool{
		"AccessDenied":          true,
		"AllAccessDisabled":     true,
		"InvalidAccessKeyId":    true,
		"SignatureDoesNotMatch": true,
		"ExpiredToken":          true,
		"InvalidToken":          true,
		"TokenRefreshRequired":  true,
		"AccountProblem":        true,
		"XAdminUserNotFound":    true, // versitygw: unknown access key
	}
	transientCodes = map[string]bool{
		"SlowDown":            true,
		"Throttling":          true,
		"ThrottlingException": true,
		"RequestTimeout":      true,
		"InternalError":       true,
		"ServiceUnavailable":  true,
		"OperationAborted":    true, // a conflicting operation is in progress
	}
)

// status returns the HTTP status of the answer that caused err, or 0 when no
// answer arrived.
func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// code returns the S3 error code carried by err, or "".
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isConditionFailed reports whether err is S3's answer to a failed
// If-None-Match: 412 PreconditionFailed, or 409 ConditionalRequestConflict
// when another conditional write of the same key is in flight.
func isConditionFailed(err error) bool {
	c := code(err)
	return status(err) == 412 || c == "PreconditionFailed" || c == "ConditionalRequestConflict"
}

// mapErr classifies an SDK error onto blobstore's sentinels, keeping the
// SDK's text (status, code, request ID) for the log. Callers add the
// operation and object name.
func mapErr(err error) error {
	c, st := code(err), status(err)
	var sendErr *smithyhttp.RequestSendError
	var signErr *v4.SigningError
	// Codes first: some servers send a code with a status that alone would
	// mislead (versitygw answers an unknown key with 404).
	switch {
	case c == "NoSuchBucket":
		return fmt.Errorf("%w: %w", ErrNoBucket, err)
	case permissionCodes[c]:
		return fmt.Errorf("%w: %w", blobstore.ErrPermission, err)
	case transientCodes[c]:
		return fmt.Errorf("%w: %w", blobstore.ErrTransient, err)
	case c == "NoSuchKey" || c == "NotFound" || st == 404:
		return blobstore.ErrNotExist
	case st == 401 || st == 403:
		return fmt.Errorf("%w: %w", blobstore.ErrPermission, err)
	case st == 429 || st >= 500:
		return fmt.Errorf("%w: %w", blobstore.ErrTransient, err)
	case errors.As(err, &signErr):
		// Signing fails before sending when no credentials can be found.
		return fmt.Errorf("%w: %w", blobstore.ErrPermission, err)
	case errors.As(err, &sendErr):
		// No answer at all: refused, reset, DNS or timeout.
		return fmt.Errorf("%w: %w", blobstore.ErrTransient, err)
	case st == 0 && isBodyError(err):
		return fmt.Errorf("%w: %w", blobstore.ErrTransient, err)
	}
	return err
}

// isBodyError reports whether err is a response that broke off while being
// read, which a retry may well fix.
func isBodyError(err error) bool {
	var de *smithy.DeserializationError
	return errors.As(err, &de)
}
