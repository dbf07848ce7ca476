package crypto

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpenTampered mutates a sealed object and requires Open to fail with
// ErrAuth, without panicking and without returning any of the plaintext,
// unless the mutation left the bytes unchanged. It guards against Open
// trusting anything in an object before the tag is checked (a length, the
// format byte, the salt) and against slicing past the end of short input.
func FuzzOpenTampered(f *testing.F) {
	k := NewKeys(fixedMasterKey(), "store-golden")
	const kind, id = KindJournal, "dev1/7"
	plaintext := []byte("golden plaintext")
	orig, err := hexDecode(sealedKnownAnswer)
	if err != nil {
		f.Fatalf("bad frozen object: %v", err)
	}
	f.Add(orig)
	f.Add(orig[:len(orig)-1])
	f.Add(orig[:Overhead])
	f.Add(orig[:Overhead-1])
	f.Add(append(bytes.Clone(orig), 0))
	f.Add(flip(orig, 0))
	f.Add(flip(orig, 5))
	f.Add(flip(orig, headLen))
	f.Add(flip(orig, len(orig)-1))
	f.Add([]byte{})
	f.Add([]byte{FormatVersion})

	f.Fuzz(func(t *testing.T, mutated []byte) {
		got, err := k.Open(kind, id, mutated)
		if bytes.Equal(mutated, orig) {
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Fatalf("unchanged object: Open = %q, %v", got, err)
			}
			return
		}
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("Open(mutated) error = %v, want ErrAuth", err)
		}
		if len(got) != 0 {
			t.Fatalf("Open(mutated) returned %d bytes with its error", len(got))
		}
		if bytes.Contains(got, plaintext[:4]) {
			t.Fatal("Open(mutated) returned plaintext")
		}
	})
}
