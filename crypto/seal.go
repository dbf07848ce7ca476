package crypto

import (
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"

	"golang.org/x/crypto/hkdf"
)

// Kind names what a sealed object is. It is bound into the object's
// additional data, so an object sealed as one kind never opens as another.
type Kind string

// The kinds of sealed objects in a store.
const (
	KindChunk    Kind = "chunk"    // chunks/<id>: file content
	KindJournal  Kind = "journal"  // journal/<device>/<seq>: a batch of operations
	KindTree     Kind = "tree"     // trees/<id>: a directory object
	KindSnapshot Kind = "snapshot" // snapshots/<id>: a snapshot record
	KindDevice   Kind = "device"   // devices/<device>: a device's progress record
	KindGC       Kind = "gc"       // gc/<epoch>: chunks a GC pass found unreferenced
	// KindCheckpoint is checkpoints/<id>: a checkpoint record.
	KindCheckpoint Kind = "checkpoint"
	// KindPack is packs/<id>: part of a checkpoint's records.
	KindPack Kind = "pack"
)

// FormatVersion is the sealed-object format this package writes and reads:
// the first byte of every sealed object.
const FormatVersion byte = 1

// Sizes of the parts of a sealed object.
const (
	saltLen  = 16
	nonceLen = 12
	tagLen   = 16
	headLen  = 1 + saltLen + nonceLen

	// Overhead is how many bytes sealing adds to a plaintext.
	Overhead = headLen + tagLen
)

// Labels naming the sealing scheme's version inside the key derivation and
// the additional data, so that a later scheme can never be confused with
// this one even if it kept the same format byte by mistake.
const (
	objectKeyLabel = "syncfs object key v1"
	objectADLabel  = "syncfs sealed object v1"
)

// Seal encrypts and authenticates plaintext as the object id of the given
// kind, returning a new slice of len(plaintext)+Overhead bytes.
func (k *Keys) Seal(kind Kind, id string, plaintext []byte) []byte {
	return k.SealTo(make([]byte, 0, len(plaintext)+Overhead), kind, id, plaintext)
}

// SealTo is Seal appending the sealed object to dst and returning the
// extended slice. dst's spare capacity must not overlap plaintext.
func (k *Keys) SealTo(dst []byte, kind Kind, id string, plaintext []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(plaintext)+Overhead)
	head := dst[n : n+headLen]
	head[0] = FormatVersion
	mustRandom(head[1:])
	salt, nonce := head[1:1+saltLen], head[1+saltLen:]
	aead := k.objectAEAD(kind, salt)
	return aead.Seal(dst[:n+headLen], nonce, plaintext, k.additionalData(FormatVersion, kind, id))
}

// Open authenticates and decrypts a sealed object, which must have been
// sealed by these keys' store as the object id of the given kind. Any
// other input (tampered, truncated, another kind, ID or store, or not a
// sealed object at all) gives an error wrapping ErrAuth and no plaintext.
func (k *Keys) Open(kind Kind, id string, sealed []byte) ([]byte, error) {
	return k.OpenTo(nil, kind, id, sealed)
}

// OpenTo is Open appending the plaintext to dst and returning the extended
// slice. dst's spare capacity must not overlap sealed. On error dst is
// returned unchanged in length.
func (k *Keys) OpenTo(dst []byte, kind Kind, id string, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return dst, fmt.Errorf("open %s %q: %w: %d bytes is too short", kind, id, ErrAuth, len(sealed))
	}
	if sealed[0] != FormatVersion {
		return dst, fmt.Errorf("open %s %q: %w: unknown format %d", kind, id, ErrAuth, sealed[0])
	}
	salt, nonce := sealed[1:1+saltLen], sealed[1+saltLen:headLen]
	aead := k.objectAEAD(kind, salt)
	out, err := aead.Open(dst, nonce, sealed[headLen:], k.additionalData(sealed[0], kind, id))
	if err != nil {
		return dst, fmt.Errorf("open %s %q: %w", kind, id, ErrAuth)
	}
	return out, nil
}

// objectAEAD returns AES-256-GCM under the per-object key
// HKDF-SHA256(kind's subkey, salt). This costs a few SHA-256 blocks, well
// under a microsecond: negligible beside sealing even a small object.
func (k *Keys) objectAEAD(kind Kind, salt []byte) cipher.AEAD {
	subkey := &k.metadata
	if kind == KindChunk {
		subkey = &k.content
	}
	var key [32]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, subkey[:], salt, []byte(objectKeyLabel)), key[:]); err != nil {
		// HKDF-SHA256 yields up to 8160 bytes; 32 cannot fail.
		panic("crypto: hkdf: " + err.Error())
	}
	return newGCM(key[:])
}

// additionalData binds an object to its format, store, kind and ID. Every
// variable field is length-prefixed, so no two distinct tuples encode alike.
func (k *Keys) additionalData(format byte, kind Kind, id string) []byte {
	b := make([]byte, 0, 4*4+1+len(objectADLabel)+len(k.storeID)+len(kind)+len(id))
	b = appendField(b, objectADLabel)
	b = append(b, format)
	b = appendField(b, k.storeID)
	b = appendField(b, kind)
	return appendField(b, id)
}
