package local

import (
	"errors"
	"syscall"

	"github.com/syncfs/syncfs/blobstore"
)

// classify maps an operating-system error onto the blobstore sentinel for
// its errno, keeping the original (with its path and errno) in the chain so
// that both errors.Is(err, blobstore.ErrNoSpace) and errors.Is(err,
// syscall.ENOSPC) hold and the message still names the file. Errors with no
// sentinel (EIO, EISDIR...) are returned as they are, already wrapped by the
// caller's context.
func classify(err error) error {
	var errno syscall.Errno
	if err == nil || !errors.As(err, &errno) {
		return err
	}
	var kind error
	switch errno {
	case syscall.ENOENT:
		kind = blobstore.ErrNotExist
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		kind = blobstore.ErrPermission
	case syscall.ENOSPC, syscall.EDQUOT:
		kind = blobstore.ErrNoSpace
	case syscall.ETIMEDOUT:
		// Only network filesystems (NFS, SMB with soft mounts) time out,
		// and a later attempt may well get through.
		kind = blobstore.ErrTransient
	default:
		return err
	}
	if errors.Is(err, kind) {
		return err
	}
	return &kindError{kind: kind, err: err}
}

// classifyRead is classify for lookups of an object by name: a path
// component that is a file (ENOTDIR) also means the object does not exist.
func classifyRead(err error) error {
	if errors.Is(err, syscall.ENOTDIR) {
		return &kindError{kind: blobstore.ErrNotExist, err: err}
	}
	return classify(err)
}

// kindError is an OS error tagged with the blobstore sentinel it maps to.
type kindError struct {
	kind error // a blobstore sentinel
	err  error // the OS error, usually an *fs.PathError
}

// Error returns the OS error's message, which names the file.
func (e *kindError) Error() string { return e.err.Error() }

// Unwrap returns both the sentinel and the OS error, so errors.Is matches
// either.
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }
