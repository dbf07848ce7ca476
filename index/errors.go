package index

import (
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

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
	// ErrNoSpace: the index's disk is full (SQLite could not grow its
	// files); the change was not made.
	ErrNoSpace = errors.New("no space left for the index")
)

// noSpace marks SQLite's "database or disk is full" with ErrNoSpace, so that
// fs answers ENOSPC rather than EIO; other errors pass unchanged.
func noSpace(err error) error {
	var se sqlite3.Error
	if err != nil && errors.As(err, &se) && se.Code == sqlite3.ErrFull {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// isUniqueViolation reports whether err is SQLite refusing a row that a
// UNIQUE constraint already has (a name taken in its directory).
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique
}
