package crypto

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"golang.org/x/crypto/blake2b"
)

const benchChunk = 1 << 20

func BenchmarkSeal(b *testing.B) {
	for _, n := range []int{256, benchChunk} {
		b.Run(sizeName(n), func(b *testing.B) {
			k := NewKeys(fixedMasterKey(), "bench")
			plaintext := randomBytes(1, n)
			dst := make([]byte, 0, n+Overhead)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				dst = k.SealTo(dst[:0], KindChunk, "id", plaintext)
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{256, benchChunk} {
		b.Run(sizeName(n), func(b *testing.B) {
			k := NewKeys(fixedMasterKey(), "bench")
			sealed := k.Seal(KindChunk, "id", randomBytes(1, n))
			dst := make([]byte, 0, n)
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = k.OpenTo(dst[:0], KindChunk, "id", sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChunkID measures the chosen keyed hash (HMAC-SHA256) next to the
// alternative (keyed BLAKE2b-256) on a 1 MiB chunk; the faster one on the
// machines we target is the one ChunkID uses.
func BenchmarkChunkID(b *testing.B) {
	data := randomBytes(2, benchChunk)
	key := make([]byte, 32)
	b.Run("ChunkID", func(b *testing.B) {
		k := NewKeys(fixedMasterKey(), "bench")
		b.SetBytes(benchChunk)
		for b.Loop() {
			_ = k.ChunkID(data)
		}
	})
	b.Run("hmac-sha256", func(b *testing.B) {
		b.SetBytes(benchChunk)
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write(data)
			_ = m.Sum(nil)
		}
	})
	b.Run("blake2b-256-keyed", func(b *testing.B) {
		b.SetBytes(benchChunk)
		for b.Loop() {
			h, err := blake2b.New256(key)
			if err != nil {
				b.Fatal(err)
			}
			h.Write(data)
			_ = h.Sum(nil)
		}
	})
}

func BenchmarkNewKeys(b *testing.B) {
	mk := fixedMasterKey()
	for b.Loop() {
		_ = NewKeys(mk, "bench")
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return itoa(n>>20) + "MiB"
	}
	return itoa(n) + "B"
}
