package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/syncfs/syncfs/blobstore"
	"github.com/syncfs/syncfs/crypto"
	"github.com/syncfs/syncfs/resolver"
)

// Exit codes, one per class of failure, stable for scripts.
const (
	exitOK             = 0
	exitError          = 1
	exitUsage          = 2
	exitPassphrase     = 3
	exitStore          = 4 // missing, unreachable, denied, not a syncfs store
	exitFormat         = 5 // unknown format, damaged config
	exitBusy           = 6 // cache directory in use
	exitMountpoint     = 7
	exitNotMounted     = 8
	exitAlreadyCreated = 9
	exitDamaged        = 10 // snapshot verify found missing or damaged objects
)

// usageError marks bad flags or arguments.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// Errors the commands raise themselves.
var (
	errCacheInUse    = errors.New("cache directory is in use by another syncfs mount")
	errBadMountpoint = errors.New("bad mount point")
	errNotMounted    = errors.New("not a syncfs mount (no daemon answers for it)")
)

// describe maps an error to its exit code and the one line the user sees.
func describe(err error) (int, string) {
	var u usageError
	var ec exitCodeError
	switch {
	case errors.As(err, &ec):
		return ec.code, ec.msg
	case errors.As(err, &u):
		return exitUsage, err.Error() + " (see syncfs --help)"
	case errors.Is(err, resolver.ErrWrongPassphrase), errors.Is(err, crypto.ErrWrongPassphrase):
		return exitPassphrase, "wrong passphrase"
	case errors.Is(err, resolver.ErrUnknownFormat), errors.Is(err, resolver.ErrCorruptConfig):
		return exitFormat, err.Error()
	case errors.Is(err, resolver.ErrAlreadyInitialized):
		return exitAlreadyCreated, err.Error() + ": init needs an empty store"
	case errors.Is(err, resolver.ErrNotInitialized), errors.Is(err, blobstore.ErrPermission),
		errors.Is(err, blobstore.ErrTransient), errors.Is(err, blobstore.ErrNotExist), errors.Is(err, errStoreLocation):
		return exitStore, err.Error()
	case errors.Is(err, errCacheInUse):
		return exitBusy, err.Error()
	case errors.Is(err, errBadMountpoint):
		return exitMountpoint, err.Error()
	case errors.Is(err, errNotMounted):
		return exitNotMounted, err.Error()
	case errors.Is(err, context.Canceled):
		return exitError, "interrupted"
	}
	return exitError, fmt.Sprint(err)
}
