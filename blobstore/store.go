package blobstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors every Store maps its backend's failures onto. Callers test
// them with errors.Is; implementations wrap them with context ("get chunks/ab: %w").
var (
	// ErrNotExist reports that the named object does not exist.
	ErrNotExist = errors.New("object does not exist")
	// ErrExist reports that PutIfAbsent found the name already taken
	// (S3 412/409, GCS 412, Azure 409/412 all map here).
	ErrExist = errors.New("object already exists")
	// ErrTransient marks failures that may succeed when retried: throttling,
	// 5xx answers, timeouts, refused or reset connections.
	ErrTransient = errors.New("transient store error")
	// ErrPermission reports bad or missing credentials or a denied request.
	ErrPermission = errors.New("store denied access")
	// ErrStoreDown is returned by the fault-injection wrapper while its
	// "down" switch is on; it also wraps ErrTransient.
	ErrStoreDown = errors.New("store unreachable")
	// ErrNoSpace reports that the store has no room left for the object
	// (ENOSPC or a quota on a local or network disk). It is not transient:
	// retrying at once will not help, freeing space will.
	ErrNoSpace = errors.New("store out of space")
	// ErrBadName reports an object name the store refuses: empty, absolute,
	// with an empty, "." or ".." component, or containing NUL.
	ErrBadName = errors.New("invalid object name")
)

// Info describes one stored object.
type Info struct {
	Name    string    // full object name, e.g. "chunks/3f2a..."
	Size    int64     // bytes
	ModTime time.Time // as reported by the backend; zero if unknown
}

// Store is the small interface every object store implements. Names are
// slash-separated, never start with "/", and the syncfs layout never makes one
// name a prefix directory of another ("a" and "a/b" never both exist).
//
// Contract, which blobstore/storetest checks for every implementation:
//   - Put replaces the object atomically: a reader sees the old bytes or the
//     new ones, never a mix or a partial object. body is read from offset 0
//     to size; Put may read it more than once (retries), so it must not be
//     consumed state.
//   - PutIfAbsent is Put that fails with ErrExist if the name exists, decided
//     atomically by the backend (two racing callers: exactly one wins).
//   - Get returns the bytes [off, off+length) (length < 0: to the end). A
//     missing object gives ErrNotExist. If the object is shorter than asked,
//     reading the returned stream fails with io.ErrUnexpectedEOF rather than
//     ending early with io.EOF. off beyond the end is an error.
//   - Stat returns the object's Info or ErrNotExist.
//   - List calls fn for every object whose name starts with prefix, in
//     lexical order, across as many pages as the backend needs; an error from
//     fn stops the listing and is returned.
//   - Delete removes the object; deleting a missing object is not an error.
//   - Every method honours ctx cancellation and returns ctx.Err() (wrapped).
//   - A name that fails CheckName may be refused with ErrBadName; a full
//     disk or quota gives ErrNoSpace.
type Store interface {
	Put(ctx context.Context, name string, body io.ReaderAt, size int64) error
	PutIfAbsent(ctx context.Context, name string, body io.ReaderAt, size int64) error
	Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	Stat(ctx context.Context, name string) (Info, error)
	List(ctx context.Context, prefix string, fn func(Info) error) error
	Delete(ctx context.Context, name string) error
}
