package gcs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"

	"github.com/syncfs/syncfs/blobstore"
)

// status returns the HTTP status of the answer that caused err, or 0 when no
// answer arrived.
func status(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

// mapErr classifies an SDK error onto blobstore's sentinels, keeping the
// SDK's text for the log. Callers add the operation and object name.
func mapErr(err error) error {
	st := status(err)
	switch {
	case errors.Is(err, storage.ErrBucketNotExist):
		return fmt.Errorf("%w: %w", ErrNoBucket, err)
	case errors.Is(err, storage.ErrObjectNotExist) || st == 404:
		return blobstore.ErrNotExist
	case st == 401 || st == 403:
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
