package crypto

import "errors"

// ErrAuth reports that a sealed object or a MAC failed authentication: it was
// tampered with, truncated, corrupted, sealed for another kind, ID or store,
// or is not a sealed object at all.
var ErrAuth = errors.New("authentication failed")

// ErrWrongPassphrase reports that the master key could not be unwrapped:
// almost always a wrong passphrase, possibly a corrupted config object.
var ErrWrongPassphrase = errors.New("wrong passphrase")

// ErrBadParams reports KDF parameters that are unknown or outside the limits
// this package accepts.
var ErrBadParams = errors.New("bad key derivation parameters")
