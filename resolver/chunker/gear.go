package chunker

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math/bits"
)

// gearIV is the CTR initial counter block. It names the derivation's purpose
// and version, so that the same key used for anything else later (in CTR
// mode with another IV) cannot produce this keystream.
const gearIV = "syncfs gear v1.."

// gearTable derives the 256 gear values from key with AES-256-CTR.
func gearTable(key [32]byte) [256]uint64 {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		// Only a wrong key length fails, and the type rules that out.
		panic("chunker: " + err.Error())
	}
	var stream [256 * 8]byte
	cipher.NewCTR(block, []byte(gearIV)).XORKeyStream(stream[:], stream[:])
	var g [256]uint64
	for i := range g {
		g[i] = binary.LittleEndian.Uint64(stream[8*i:])
	}
	return g
}

// masks returns the boundary masks of normalized chunking (level 2): the
// top log2(avg)+2 bits for the hard mask used before Avg, and the top
// log2(avg)-2 bits for the easy mask used after. The top bits are the ones
// that depend on the most recent 64 bytes, so the hash's window is as wide
// as it can be.
func masks(avg int) (hard, easy uint64) {
	b := bits.Len(uint(avg)) - 1 // floor(log2(avg))
	top := func(n int) uint64 {
		n = max(1, min(n, 63))
		return ^uint64(0) << (64 - n)
	}
	return top(b + 2), top(b - 2)
}

// scan hashes data onward from state h and returns the index of the first
// byte after which h&mask is zero, or -1, together with the new state.
//
// It takes two bytes per step. The state after the second byte,
// h<<2 + gear[b0]<<1 + gear[b1], is computed from h directly rather than
// from the state after the first byte, which halves the serial chain of
// shifts and adds that bounds the loop's speed (the idea of FastCDC 2020's
// "rolling two bytes each time"); both states are still checked, so the
// boundaries are exactly those of the one-byte loop.
func scan(h uint64, data []byte, mask uint64, gear *[256]uint64) (int, uint64) {
	i := 0
	for ; i+1 < len(data); i += 2 {
		g0, g1 := gear[data[i]], gear[data[i+1]]
		h1 := h<<1 + g0
		h = h<<2 + (g0<<1 + g1)
		if h1&mask == 0 {
			return i, h1
		}
		if h&mask == 0 {
			return i + 1, h
		}
	}
	if i < len(data) {
		h = h<<1 + gear[data[i]]
		if h&mask == 0 {
			return i, h
		}
	}
	return -1, h
}
