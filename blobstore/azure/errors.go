package azure

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/syncfs/syncfs/blobstore"
)

// Error codes the blob service sends, grouped by the sentinel they map to.
var (
	permissionCodes = []bloberror.Code{
		bloberror.AuthenticationFailed,
		bloberror.AuthorizationFailure,
		bloberror.AuthorizationPermissionMismatch,
		bloberror.InsufficientAccountPermissions,
		bloberror.AccountIsDisabled,
	}
	transientCodes = []bloberror.Code{
		bloberror.ServerBusy,
		bloberror.OperationTimedOut,
		bloberror.InternalError,
	}
)

// status returns the HTTP status of the answer that caused err, or 0 when no
// answer arrived.
func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// isConditionFailed reports whether err is the service's answer to a failed
// If-None-Match: "*": 409 BlobAlreadyExists, or 412 ConditionNotMet.
func isConditionFailed(err error) bool {
	return bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) ||
		status(err) == 412
}

// mapErr classifies an SDK error onto blobstore's sentinels, keeping the
// SDK's text for the log. Callers add the operation and object name.
func mapErr(err error) error {
	st := status(err)
	var authErr *azidentity.AuthenticationFailedError
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		return fmt.Errorf("%w: %w", ErrNoContainer, err)
	case bloberror.HasCode(err, permissionCodes...):
		return fmt.Errorf("%w: %w", blobstore.ErrPermission, err)
	case bloberror.HasCode(err, transientCodes...):
		return fmt.Errorf("%w: %w", blobstore.ErrTransient, err)
	case bloberror.HasCode(err, bloberror.BlobNotFound) || st == 404:
		return blobstore.ErrNotExist
	case st == 401 || st == 403 || errors.As(err, &authErr):
		return fmt.Errorf("%w: %w", blobstore.ErrPermission, err)
	case st == 408 || st == 429 || st >= 500:
		return fmt.Errorf("%w: %w", blobstore.ErrTransient, err)
	case st == 0 && isNetwork(err):
		return fmt.Errorf("%w: %w", blobstore.ErrTransient, err)
	}
	return err
}

// isNetwork reports whether err means no (complete) answer arrived: refused,
// reset, timed out, or cut off halfway.
func isNetwork(err error) bool {
	var ue *url.Error
	var oe *net.OpError
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &oe) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED)
}
