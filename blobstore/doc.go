// Package blobstore is syncfs's one interface to object storage: Store,
// with six methods (Put, PutIfAbsent, Get, Stat, List, Delete), its
// sentinel errors, the wrappers every backend can be put in, and the
// parsing of store addresses. Backends live in subpackages: local (a
// directory, the default), s3, gcs and azure. This package imports no other
// syncfs package.
//
// # Contract
//
// The contract is written on Store and checked for every implementation
// by the conformance suite in blobstore/storetest. In short: Put replaces
// an object atomically; PutIfAbsent creates it only if the name is free,
// and of racing callers exactly one wins; Get reads a byte range and fails
// with io.ErrUnexpectedEOF, never a clean end, if the object is shorter
// than asked; List reports names in byte order; Delete of a missing object
// succeeds; every method returns the context's error (wrapped) once its
// context is done.
//
// Names are slash-separated paths such as "chunks/3f2a" or
// "journal/<device>/17". CheckName states which names every store
// accepts: not empty, not absolute, no empty, "." or ".." component, no
// NUL. The syncfs layout never makes one name a directory of another.
//
// # Errors
//
// Backends map their failures onto sentinels, which callers test with
// errors.Is; the original error stays in the chain for the message.
//
//   - ErrNotExist: the object is missing (Get, Stat).
//   - ErrExist: PutIfAbsent found the name taken.
//   - ErrPermission: credentials are missing or wrong, or access is denied.
//   - ErrNoSpace: the disk or quota is full. Not transient.
//   - ErrBadName: the name fails CheckName (or a backend's own rule).
//   - ErrTransient: the call may succeed if tried again (timeouts, 5xx,
//     throttling, dropped connections). IsTransient is the one place that
//     decides whether an error is worth retrying.
//   - ErrStoreDown: the fault wrapper's "unreachable" switch is on; it
//     always comes with ErrTransient.
//
// # Wrappers
//
// Wrappers are Stores around a Store; each has an Unwrap() Store method to
// reach the one inside.
//
//   - NewRetry retries transient failures with exponential backoff and full
//     jitter, resuming a listing where it broke off.
//   - NewFault injects failures for tests: a down switch, per-operation
//     error rates, latency, truncated reads and a hook at each Put; it also
//     counts calls and bytes.
//   - Prefixed keeps every object under a prefix, which is how the prefix
//     of s3://bucket/prefix is applied.
//
// # Locations
//
// ParseURL turns a store address (a path, file:///path, s3://bucket/prefix,
// gs://bucket/prefix or azblob://container/prefix) into a Location, whose
// String method gives the canonical form.
package blobstore
