package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultGetAllLimit is the size cap GetAll applies when given a limit of
// zero or less. syncfs objects (chunks, journal batches, trees) are far
// smaller; the cap only stops a damaged or hostile store from making us
// allocate without bound.
const DefaultGetAllLimit = 256 << 20

// ErrTooLarge reports that GetAll found an object bigger than its limit.
var ErrTooLarge = errors.New("object larger than limit")

// PutBytes stores b under name, replacing any existing object.
func PutBytes(ctx context.Context, s Store, name string, b []byte) error {
	return s.Put(ctx, name, bytes.NewReader(b), int64(len(b)))
}

// PutBytesIfAbsent stores b under name unless the name is taken, in which
// case it returns an error wrapping ErrExist.
func PutBytesIfAbsent(ctx context.Context, s Store, name string, b []byte) error {
	return s.PutIfAbsent(ctx, name, bytes.NewReader(b), int64(len(b)))
}

// GetAll reads the whole object into memory. An object longer than limit
// bytes (DefaultGetAllLimit if limit <= 0) gives an error wrapping
// ErrTooLarge; limit is enforced while reading, so no Stat round trip is
// spent and a lying backend cannot exceed it either.
func GetAll(ctx context.Context, s Store, name string, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultGetAllLimit
	}
	rc, err := s.Get(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("read %s: more than %d bytes: %w", name, limit, ErrTooLarge)
	}
	return b, nil
}

// IsTransient reports whether err is worth retrying: it wraps ErrTransient
// and none of the answers that retrying cannot change (ErrNotExist,
// ErrExist, ErrPermission, ErrBadName, ErrNoSpace), nor a context
// cancellation or deadline, since a caller that gave up must not be retried
// on its behalf. The retry wrapper decides with this one function.
func IsTransient(err error) bool {
	if !errors.Is(err, ErrTransient) {
		return false
	}
	for _, final := range [...]error{
		ErrNotExist, ErrExist, ErrPermission, ErrBadName, ErrNoSpace,
		context.Canceled, context.DeadlineExceeded,
	} {
		if errors.Is(err, final) {
			return false
		}
	}
	return true
}

// CheckName returns an error wrapping ErrBadName unless name is a valid
// object name: not empty, not starting or ending with "/", no empty, "."
// or ".." component, and no NUL byte. Backends call it so that every store
// accepts the same names, whatever its own rules would allow.
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name: %w", ErrBadName)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("name %q contains NUL: %w", name, ErrBadName)
	}
	if strings.HasPrefix(name, "/") {
		return fmt.Errorf("name %q is absolute: %w", name, ErrBadName)
	}
	for comp := range strings.SplitSeq(name, "/") {
		switch comp {
		case "":
			return fmt.Errorf("name %q has an empty component: %w", name, ErrBadName)
		case ".", "..":
			return fmt.Errorf("name %q has a %q component: %w", name, comp, ErrBadName)
		}
	}
	return nil
}
