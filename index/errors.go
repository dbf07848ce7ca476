package index

import "errors"

// Domain errors returned by the index. fs maps them to errno values; nothing
// else should need to.
var (
	ErrNotExist          = errors.New("no such file or directory")
	ErrExist             = errors.New("file exists")
	ErrNotEmpty          = errors.New("directory not empty")
	ErrNotDir            = errors.New("not a directory")
	ErrIsDir             = errors.New("is a directory")
	ErrInvalid           = errors.New("invalid argument")
	ErrPermission        = errors.New("operation not permitted")
	ErrNameTooLong       = errors.New("file name too long")
	ErrNoData            = errors.New("no such attribute")
	ErrIllegalTransition = errors.New("illegal residency transition")
	ErrBusy              = errors.New("resource busy")
)
