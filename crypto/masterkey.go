package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
)

// MasterKey is a store's random 256-bit root key. It is stored only wrapped
// under a KEK; every working key comes from it through NewKeys.
type MasterKey [32]byte

// String hides the key so that it never reaches a log by accident.
func (MasterKey) String() string { return "crypto.MasterKey(redacted)" }

// GoString hides the key from %#v as well.
func (k MasterKey) GoString() string { return k.String() }

// NewMasterKey returns a fresh random master key.
func NewMasterKey() (MasterKey, error) {
	var mk MasterKey
	mustRandom(mk[:])
	return mk, nil
}

// Wrapped master key layout: format byte | nonce | AES-256-GCM(master key) | tag.
const (
	wrapFormat   byte = 1
	wrapNonceLen      = 12
	wrapTagLen        = 16
	// WrappedKeyLen is the length of a wrapped master key.
	WrappedKeyLen = 1 + wrapNonceLen + len(MasterKey{}) + wrapTagLen
)

// wrapLabel separates the additional data of a wrapped key from that of any
// other AES-GCM use of this package, and names the wrapping scheme's version.
const wrapLabel = "syncfs wrapped master key v1"

// WrapMasterKey seals mk under kek with AES-256-GCM and a random nonce. The
// additional data ad (for instance the encoded KDF parameters and store ID)
// is authenticated but not stored: the same ad must be given to unwrap.
func WrapMasterKey(kek KEK, mk MasterKey, ad []byte) []byte {
	aead := newGCM(kek[:])
	out := make([]byte, 1+wrapNonceLen, WrappedKeyLen)
	out[0] = wrapFormat
	nonce := out[1 : 1+wrapNonceLen]
	mustRandom(nonce)
	return aead.Seal(out, nonce, mk[:], wrapAD(wrapFormat, ad))
}

// UnwrapMasterKey opens a key made by WrapMasterKey. An authentication
// failure gives an error wrapping ErrWrongPassphrase; bytes that cannot be a
// wrapped key at all give one wrapping ErrAuth.
func UnwrapMasterKey(kek KEK, wrapped, ad []byte) (MasterKey, error) {
	if len(wrapped) != WrappedKeyLen {
		return MasterKey{}, fmt.Errorf("unwrap master key: %w: %d bytes, want %d", ErrAuth, len(wrapped), WrappedKeyLen)
	}
	if wrapped[0] != wrapFormat {
		return MasterKey{}, fmt.Errorf("unwrap master key: %w: unknown format %d", ErrAuth, wrapped[0])
	}
	aead := newGCM(kek[:])
	nonce := wrapped[1 : 1+wrapNonceLen]
	var mk MasterKey
	plain, err := aead.Open(mk[:0], nonce, wrapped[1+wrapNonceLen:], wrapAD(wrapped[0], ad))
	if err != nil || len(plain) != len(mk) {
		return MasterKey{}, fmt.Errorf("unwrap master key: %w (or the config's wrapped key is corrupted)", ErrWrongPassphrase)
	}
	return mk, nil
}

func wrapAD(format byte, ad []byte) []byte {
	b := make([]byte, 0, 4+len(wrapLabel)+1+4+len(ad))
	b = appendField(b, wrapLabel)
	b = append(b, format)
	return appendField(b, ad)
}

// appendField appends s with a 4-byte big-endian length prefix, so that
// adjacent fields cannot be shifted into one another ("ab","c" vs "a","bc").
func appendField[S ~string | ~[]byte](b []byte, s S) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// newGCM returns AES-256-GCM for a 32-byte key. Both constructors fail only
// on a wrong key size, which every caller rules out by its types.
func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("crypto: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("crypto: " + err.Error())
	}
	return aead
}
