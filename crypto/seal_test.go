package crypto

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

var allKinds = []Kind{KindChunk, KindJournal, KindTree, KindSnapshot, KindDevice, KindGC}

func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// wantAuthFailure fails t unless err wraps ErrAuth and no plaintext came back.
func wantAuthFailure(t *testing.T, what string, got []byte, err error, plaintext []byte) {
	t.Helper()
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("%s: Open error = %v, want ErrAuth", what, err)
	}
	if len(got) != 0 {
		t.Fatalf("%s: Open returned %d bytes with its error", what, len(got))
	}
	if len(plaintext) > 0 && bytes.Contains(got, plaintext) {
		t.Fatalf("%s: Open returned the plaintext", what)
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := newTestKeys(t, "store-1")
	for _, kind := range allKinds {
		for _, n := range []int{0, 1, 15, 16, 17, 4096, 1 << 20} {
			plaintext := randomBytes(uint64(n), n)
			id := "id-" + string(kind)
			sealed := k.Seal(kind, id, plaintext)
			t.Run(string(kind)+"/"+itoa(n), func(t *testing.T) {
				if len(sealed) != n+Overhead {
					t.Fatalf("sealed length %d, want %d", len(sealed), n+Overhead)
				}
				if sealed[0] != FormatVersion {
					t.Fatalf("format byte %d, want %d", sealed[0], FormatVersion)
				}
				if n >= 16 && bytes.Contains(sealed, plaintext[:16]) {
					t.Fatal("sealed object contains plaintext")
				}
				got, err := k.Open(kind, id, sealed)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !bytes.Equal(got, plaintext) {
					t.Fatal("Open returned different bytes")
				}
			})
		}
	}
	t.Run("same plaintext seals differently", func(t *testing.T) {
		a := k.Seal(KindTree, "t", []byte("x"))
		b := k.Seal(KindTree, "t", []byte("x"))
		if bytes.Equal(a, b) {
			t.Fatal("two seals of one plaintext are identical: salt or nonce not random")
		}
	})
	t.Run("other Keys of same master key and store opens", func(t *testing.T) {
		mk := fixedMasterKey()
		sealed := NewKeys(mk, "s").Seal(KindChunk, "c", []byte("data"))
		got, err := NewKeys(mk, "s").Open(KindChunk, "c", sealed)
		if err != nil || string(got) != "data" {
			t.Fatalf("Open = %q, %v; want data, nil", got, err)
		}
	})
}

func TestSealToOpenTo(t *testing.T) {
	k := newTestKeys(t, "store-1")
	prefix := []byte("prefix:")
	t.Run("SealTo appends", func(t *testing.T) {
		dst := append(make([]byte, 0, 64), prefix...)
		out := k.SealTo(dst, KindJournal, "d/1", []byte("hello"))
		if !bytes.HasPrefix(out, prefix) || len(out) != len(prefix)+5+Overhead {
			t.Fatalf("SealTo returned %d bytes, want prefix then %d", len(out), 5+Overhead)
		}
		got, err := k.Open(KindJournal, "d/1", out[len(prefix):])
		if err != nil || string(got) != "hello" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("OpenTo appends", func(t *testing.T) {
		sealed := k.Seal(KindJournal, "d/1", []byte("hello"))
		buf := make([]byte, 0, 64)
		out, err := k.OpenTo(append(buf, prefix...), KindJournal, "d/1", sealed)
		if err != nil || string(out) != "prefix:hello" {
			t.Fatalf("OpenTo = %q, %v", out, err)
		}
		if &out[0] != &buf[:1][0] {
			t.Fatal("OpenTo did not reuse dst's capacity")
		}
	})
	t.Run("OpenTo failure keeps dst", func(t *testing.T) {
		sealed := k.Seal(KindJournal, "d/1", []byte("hello"))
		sealed[len(sealed)-1] ^= 1
		out, err := k.OpenTo(prefix, KindJournal, "d/1", sealed)
		if !errors.Is(err, ErrAuth) || string(out) != string(prefix) {
			t.Fatalf("OpenTo(tampered) = %q, %v; want dst unchanged and ErrAuth", out, err)
		}
	})
}

func TestOpenRejectsTampering(t *testing.T) {
	k := newTestKeys(t, "store-1")
	plaintext := []byte("a small journal batch")
	for _, kind := range []Kind{KindChunk, KindJournal} {
		sealed := k.Seal(kind, "obj", plaintext)
		t.Run(string(kind)+"/flip each byte", func(t *testing.T) {
			for i := range sealed {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					bad := bytes.Clone(sealed)
					bad[i] ^= mask
					got, err := k.Open(kind, "obj", bad)
					wantAuthFailure(t, "byte "+itoa(i)+" flipped", got, err, plaintext)
				}
			}
		})
		t.Run(string(kind)+"/truncate at each length", func(t *testing.T) {
			for n := 0; n < len(sealed); n++ {
				got, err := k.Open(kind, "obj", sealed[:n])
				wantAuthFailure(t, "truncated to "+itoa(n), got, err, plaintext)
			}
		})
		t.Run(string(kind)+"/extend", func(t *testing.T) {
			got, err := k.Open(kind, "obj", append(bytes.Clone(sealed), 0))
			wantAuthFailure(t, "one byte appended", got, err, plaintext)
		})
	}
}

func TestOpenRejectsWrongContext(t *testing.T) {
	k := newTestKeys(t, "store-1")
	plaintext := []byte("tree contents")
	sealed := k.Seal(KindTree, "tree-a", plaintext)
	t.Run("wrong kind", func(t *testing.T) {
		for _, kind := range allKinds {
			if kind == KindTree {
				continue
			}
			got, err := k.Open(kind, "tree-a", sealed)
			wantAuthFailure(t, "as "+string(kind), got, err, plaintext)
		}
	})
	t.Run("wrong id", func(t *testing.T) {
		for _, id := range []string{"", "tree-b", "tree-a ", "Tree-a", "tree-"} {
			got, err := k.Open(KindTree, id, sealed)
			wantAuthFailure(t, "id "+id, got, err, plaintext)
		}
	})
	t.Run("wrong store", func(t *testing.T) {
		mk := fixedMasterKey()
		a, b := NewKeys(mk, "store-a"), NewKeys(mk, "store-b")
		s := a.Seal(KindChunk, "c", plaintext)
		got, err := b.Open(KindChunk, "c", s)
		wantAuthFailure(t, "other store, same master key", got, err, plaintext)
	})
	t.Run("wrong master key", func(t *testing.T) {
		other := newTestKeys(t, "store-1")
		got, err := other.Open(KindTree, "tree-a", sealed)
		wantAuthFailure(t, "other master key", got, err, plaintext)
	})
	t.Run("swapped objects", func(t *testing.T) {
		s1 := k.Seal(KindJournal, "dev/1", []byte("first batch"))
		s2 := k.Seal(KindJournal, "dev/2", []byte("second batch"))
		got, err := k.Open(KindJournal, "dev/1", s2)
		wantAuthFailure(t, "2 stored as 1", got, err, []byte("second batch"))
		got, err = k.Open(KindJournal, "dev/2", s1)
		wantAuthFailure(t, "1 stored as 2", got, err, []byte("first batch"))
	})
	t.Run("spliced objects", func(t *testing.T) {
		// The head (salt and nonce) of one object with the body of another.
		s1 := k.Seal(KindJournal, "dev/1", []byte("first batch!"))
		s2 := k.Seal(KindJournal, "dev/1", []byte("other batch!"))
		spliced := append(bytes.Clone(s1[:headLen]), s2[headLen:]...)
		got, err := k.Open(KindJournal, "dev/1", spliced)
		wantAuthFailure(t, "spliced", got, err, []byte("other batch!"))
	})
	t.Run("fields are length-prefixed", func(t *testing.T) {
		mk := fixedMasterKey()
		s := NewKeys(mk, "st").Seal(Kind("ab"), "c", plaintext)
		got, err := NewKeys(mk, "st").Open(Kind("a"), "bc", s)
		wantAuthFailure(t, `kind "ab" id "c" as kind "a" id "bc"`, got, err, plaintext)
		if ad1, ad2 := NewKeys(mk, "sta").additionalData(1, "b", "c"), NewKeys(mk, "st").additionalData(1, "ab", "c"); bytes.Equal(ad1, ad2) {
			t.Fatal("store ID and kind run together in the additional data")
		}
	})
}

func TestKnownAnswers(t *testing.T) {
	// Frozen vectors: objects written by this format must open forever, and
	// chunk IDs must not change or deduplication across versions breaks.
	// Never regenerate them to make a test pass.
	k := NewKeys(fixedMasterKey(), "store-golden")
	t.Run("sealed object", func(t *testing.T) {
		got, err := k.Open(KindJournal, "dev1/7", unhex(t, sealedKnownAnswer))
		if err != nil || string(got) != "golden plaintext" {
			t.Fatalf("Open(frozen) = %q, %v", got, err)
		}
	})
	t.Run("chunk id", func(t *testing.T) {
		if got := k.ChunkID([]byte("hello")); got != chunkIDKnownAnswer {
			t.Fatalf("ChunkID(hello) = %s, want %s", got, chunkIDKnownAnswer)
		}
	})
	t.Run("config mac", func(t *testing.T) {
		if got := hexOf(k.ConfigMAC([]byte("config"))); got != configMACKnownAnswer {
			t.Fatalf("ConfigMAC(config) = %s, want %s", got, configMACKnownAnswer)
		}
	})
	t.Run("chunker key", func(t *testing.T) {
		ck := k.ChunkerKey()
		if got := hexOf(ck[:]); got != chunkerKeyKnownAnswer {
			t.Fatalf("ChunkerKey() = %s, want %s", got, chunkerKeyKnownAnswer)
		}
	})
}

func TestKeysConcurrentUse(t *testing.T) {
	// Keys is shared by the uploader and fetcher pools; -race checks that
	// sealing and opening never write to it.
	k := newTestKeys(t, "store-1")
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range 50 {
				id := itoa(g) + "/" + itoa(i)
				s := k.Seal(KindJournal, id, []byte(id))
				got, err := k.Open(KindJournal, id, s)
				if err == nil && string(got) != id {
					err = errors.New("wrong plaintext for " + id)
				}
				if err != nil {
					done <- err
					return
				}
				_ = k.ChunkID(got)
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
