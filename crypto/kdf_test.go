package crypto

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestValidate(t *testing.T) {
	good := testParams(t)
	with := func(f func(p *KDFParams)) KDFParams {
		p := good
		p.Salt = bytes.Clone(good.Salt)
		f(&p)
		return p
	}
	tests := []struct {
		name string
		p    KDFParams
		ok   bool
	}{
		{"small test params", good, true},
		{"rfc 9106 second set", with(func(p *KDFParams) { p.MemoryKiB, p.Time, p.Threads = 64<<10, 3, 4 }), true},
		{"salt 16 bytes", with(func(p *KDFParams) { p.Salt = make([]byte, 16) }), true},
		{"salt 64 bytes", with(func(p *KDFParams) { p.Salt = make([]byte, 64) }), true},
		{"memory at cap", with(func(p *KDFParams) { p.MemoryKiB = MaxMemoryKiB }), true},
		{"time at cap", with(func(p *KDFParams) { p.Time = MaxTime }), true},
		{"threads at cap", with(func(p *KDFParams) { p.Threads, p.MemoryKiB = MaxThreads, 8*MaxThreads }), true},
		{"memory exactly 8 per thread", with(func(p *KDFParams) { p.Threads, p.MemoryKiB = 4, 32 }), true},
		{"unknown algorithm", with(func(p *KDFParams) { p.Algorithm = "scrypt" }), false},
		{"empty algorithm", with(func(p *KDFParams) { p.Algorithm = "" }), false},
		{"algorithm case differs", with(func(p *KDFParams) { p.Algorithm = "Argon2id" }), false},
		{"no salt", with(func(p *KDFParams) { p.Salt = nil }), false},
		{"salt 15 bytes", with(func(p *KDFParams) { p.Salt = make([]byte, 15) }), false},
		{"salt 65 bytes", with(func(p *KDFParams) { p.Salt = make([]byte, 65) }), false},
		{"memory above cap", with(func(p *KDFParams) { p.MemoryKiB = MaxMemoryKiB + 1 }), false},
		{"memory max uint32", with(func(p *KDFParams) { p.MemoryKiB = ^uint32(0) }), false},
		{"memory zero", with(func(p *KDFParams) { p.MemoryKiB = 0 }), false},
		{"memory below 8 per thread", with(func(p *KDFParams) { p.Threads, p.MemoryKiB = 4, 31 }), false},
		{"time zero", with(func(p *KDFParams) { p.Time = 0 }), false},
		{"time above cap", with(func(p *KDFParams) { p.Time = MaxTime + 1 }), false},
		{"threads zero", with(func(p *KDFParams) { p.Threads = 0 }), false},
		{"threads above cap", with(func(p *KDFParams) { p.Threads, p.MemoryKiB = MaxThreads+1, 1<<20 }), false},
		{"threads 255", with(func(p *KDFParams) { p.Threads, p.MemoryKiB = 255, 1<<20 }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrBadParams) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrBadParams", err)
			}
		})
	}
}

func TestDefaultKDFParams(t *testing.T) {
	p, err := DefaultKDFParams()
	if err != nil {
		t.Fatalf("DefaultKDFParams: %v", err)
	}
	t.Run("rfc 9106 second set", func(t *testing.T) {
		if p.Algorithm != AlgorithmArgon2id || p.MemoryKiB != 64<<10 || p.Time != 3 || p.Threads != 4 || len(p.Salt) != 32 {
			t.Fatalf("DefaultKDFParams() = %+v, want argon2id, 65536 KiB, t=3, p=4, 32-byte salt", p)
		}
	})
	t.Run("fresh salt each call", func(t *testing.T) {
		q, err := DefaultKDFParams()
		if err != nil {
			t.Fatalf("DefaultKDFParams: %v", err)
		}
		if bytes.Equal(p.Salt, q.Salt) {
			t.Fatal("two calls returned the same salt")
		}
	})
	t.Run("derive with defaults", func(t *testing.T) {
		// The one test of the real cost: about 64 MiB and a fraction of a second.
		a, err := DeriveKEK([]byte("correct horse"), p)
		if err != nil {
			t.Fatalf("DeriveKEK: %v", err)
		}
		want := argon2.IDKey([]byte("correct horse"), p.Salt, 3, 64<<10, 4, 32)
		if !bytes.Equal(a[:], want) {
			t.Fatal("DeriveKEK differs from argon2.IDKey with the same parameters")
		}
	})
}

func TestDeriveKEK(t *testing.T) {
	p := testParams(t)
	t.Run("deterministic", func(t *testing.T) {
		a, err := DeriveKEK([]byte("pass"), p)
		if err != nil {
			t.Fatalf("DeriveKEK: %v", err)
		}
		b, err := DeriveKEK([]byte("pass"), p)
		if err != nil {
			t.Fatalf("DeriveKEK: %v", err)
		}
		if a != b {
			t.Fatal("same passphrase and parameters gave different keys")
		}
	})
	t.Run("known answer", func(t *testing.T) {
		// Frozen: a change here means every store's passphrase stops working.
		a, err := DeriveKEK([]byte("pass"), p)
		if err != nil {
			t.Fatalf("DeriveKEK: %v", err)
		}
		if got, want := hexOf(a[:]), kekKnownAnswer; got != want {
			t.Fatalf("DeriveKEK = %s, want %s", got, want)
		}
	})
	t.Run("inputs matter", func(t *testing.T) {
		base, _ := DeriveKEK([]byte("pass"), p)
		other := func(name string, pass string, q KDFParams) {
			k, err := DeriveKEK([]byte(pass), q)
			if err != nil {
				t.Fatalf("%s: DeriveKEK: %v", name, err)
			}
			if k == base {
				t.Errorf("%s: key unchanged", name)
			}
		}
		other("passphrase", "pasS", p)
		q := p
		q.Salt = []byte("fedcba9876543210")
		other("salt", "pass", q)
		q = p
		q.Time = 2
		other("time", "pass", q)
		q = p
		q.MemoryKiB = 9 << 10
		other("memory", "pass", q)
	})
	t.Run("refuses bad params", func(t *testing.T) {
		q := p
		q.MemoryKiB = MaxMemoryKiB + 1
		if _, err := DeriveKEK([]byte("pass"), q); !errors.Is(err, ErrBadParams) {
			t.Fatalf("DeriveKEK(huge memory) = %v, want ErrBadParams", err)
		}
		q = p
		q.Threads = 0 // argon2 itself would panic on this
		if _, err := DeriveKEK([]byte("pass"), q); !errors.Is(err, ErrBadParams) {
			t.Fatalf("DeriveKEK(no threads) = %v, want ErrBadParams", err)
		}
	})
}
