package crypto

import (
	"fmt"

	"golang.org/x/crypto/argon2"
)

// AlgorithmArgon2id names the only key derivation function this package knows.
const AlgorithmArgon2id = "argon2id"

// Limits enforced by KDFParams.Validate. They are generous for honest stores
// and keep a hostile config from making us allocate or compute without bound.
const (
	// MinSaltLen is the shortest KDF salt accepted.
	MinSaltLen = 16
	// MaxSaltLen is the longest KDF salt accepted.
	MaxSaltLen = 64
	// MaxMemoryKiB is the most Argon2 memory accepted: 4 GiB.
	MaxMemoryKiB = 4 << 20
	// MaxTime is the most Argon2 passes accepted.
	MaxTime = 100
	// MaxThreads is the highest Argon2 parallelism accepted.
	MaxThreads = 64
)

// KDFParams describes how a passphrase becomes a key-encryption key. It is
// stored in the store's config object.
type KDFParams struct {
	Algorithm string `json:"algorithm"`  // AlgorithmArgon2id
	MemoryKiB uint32 `json:"memory_kib"` // Argon2 memory, in KiB
	Time      uint32 `json:"time"`       // Argon2 passes
	Threads   uint8  `json:"threads"`    // Argon2 parallelism (lanes)
	Salt      []byte `json:"salt"`       // random, per store
}

// DefaultKDFParams returns RFC 9106's second recommended Argon2id set (64 MiB,
// 3 passes, 4 lanes) with a fresh random 32-byte salt.
func DefaultKDFParams() (KDFParams, error) {
	salt := make([]byte, 32)
	mustRandom(salt)
	p := KDFParams{
		Algorithm: AlgorithmArgon2id,
		MemoryKiB: 64 << 10,
		Time:      3,
		Threads:   4,
		Salt:      salt,
	}
	return p, p.Validate()
}

// Validate reports, as an error wrapping ErrBadParams, parameters that name
// an unknown algorithm or fall outside the package's limits.
func (p KDFParams) Validate() error {
	switch {
	case p.Algorithm != AlgorithmArgon2id:
		return fmt.Errorf("%w: unknown algorithm %q", ErrBadParams, p.Algorithm)
	case len(p.Salt) < MinSaltLen || len(p.Salt) > MaxSaltLen:
		return fmt.Errorf("%w: salt is %d bytes, want %d to %d", ErrBadParams, len(p.Salt), MinSaltLen, MaxSaltLen)
	case p.MemoryKiB > MaxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB above the %d KiB limit", ErrBadParams, p.MemoryKiB, MaxMemoryKiB)
	case p.Time < 1 || p.Time > MaxTime:
		// argon2 panics on zero passes, so zero is refused here too.
		return fmt.Errorf("%w: time %d outside 1 to %d", ErrBadParams, p.Time, MaxTime)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: threads %d outside 1 to %d", ErrBadParams, p.Threads, MaxThreads)
	case p.MemoryKiB < 8*uint32(p.Threads):
		// RFC 9106 requires at least 8 KiB per lane; argon2 would silently
		// round up, which would make the stored parameters lie.
		return fmt.Errorf("%w: memory %d KiB below 8 KiB per thread (%d threads)", ErrBadParams, p.MemoryKiB, p.Threads)
	}
	return nil
}

// KEK is a key-encryption key: the Argon2id output of a passphrase, used only
// to wrap and unwrap the master key.
type KEK [32]byte

// String hides the key so that it never reaches a log by accident.
func (KEK) String() string { return "crypto.KEK(redacted)" }

// GoString hides the key from %#v as well.
func (k KEK) GoString() string { return k.String() }

// DeriveKEK derives the key-encryption key from a passphrase with Argon2id.
// It refuses parameters that fail Validate.
func DeriveKEK(passphrase []byte, p KDFParams) (KEK, error) {
	if err := p.Validate(); err != nil {
		return KEK{}, fmt.Errorf("derive key: %w", err)
	}
	var kek KEK
	copy(kek[:], argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(kek))))
	return kek, nil
}
