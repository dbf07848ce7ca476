package crypto

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestWrapMasterKey(t *testing.T) {
	p := testParams(t)
	kek, err := DeriveKEK([]byte("right"), p)
	if err != nil {
		t.Fatalf("DeriveKEK: %v", err)
	}
	mk, err := NewMasterKey()
	if err != nil {
		t.Fatalf("NewMasterKey: %v", err)
	}
	ad := []byte("store-1 argon2id 8192 1 1")
	wrapped := WrapMasterKey(kek, mk, ad)

	t.Run("round trip", func(t *testing.T) {
		if len(wrapped) != WrappedKeyLen {
			t.Fatalf("wrapped key is %d bytes, want %d", len(wrapped), WrappedKeyLen)
		}
		got, err := UnwrapMasterKey(kek, wrapped, ad)
		if err != nil {
			t.Fatalf("UnwrapMasterKey: %v", err)
		}
		if got != mk {
			t.Fatal("unwrapped a different master key")
		}
	})
	t.Run("random nonce", func(t *testing.T) {
		if string(WrapMasterKey(kek, mk, ad)) == string(wrapped) {
			t.Fatal("wrapping twice gave identical bytes")
		}
	})
	t.Run("wrong passphrase", func(t *testing.T) {
		wrong, err := DeriveKEK([]byte("wrong"), p)
		if err != nil {
			t.Fatalf("DeriveKEK: %v", err)
		}
		_, err = UnwrapMasterKey(wrong, wrapped, ad)
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("UnwrapMasterKey(wrong kek) = %v, want ErrWrongPassphrase", err)
		}
		if errors.Is(err, ErrAuth) {
			t.Fatal("a wrong passphrase must be told apart from ErrAuth")
		}
	})
	t.Run("wrong additional data", func(t *testing.T) {
		if _, err := UnwrapMasterKey(kek, wrapped, []byte("store-2")); !errors.Is(err, ErrWrongPassphrase) {
			t.Fatalf("UnwrapMasterKey(other ad) = %v, want ErrWrongPassphrase", err)
		}
	})
	t.Run("flipped byte", func(t *testing.T) {
		for i := 1; i < len(wrapped); i++ {
			bad := []byte(string(wrapped))
			bad[i] ^= 0x80
			if _, err := UnwrapMasterKey(kek, bad, ad); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("byte %d flipped: UnwrapMasterKey = %v, want ErrWrongPassphrase", i, err)
			}
		}
	})
	t.Run("malformed", func(t *testing.T) {
		for _, bad := range [][]byte{nil, wrapped[:len(wrapped)-1], append([]byte(string(wrapped)), 0), append([]byte{2}, wrapped[1:]...)} {
			if _, err := UnwrapMasterKey(kek, bad, ad); !errors.Is(err, ErrAuth) {
				t.Fatalf("UnwrapMasterKey(%d malformed bytes) = %v, want ErrAuth", len(bad), err)
			}
		}
	})
	t.Run("known answer", func(t *testing.T) {
		// Frozen: a wrapped key written by this version must always unwrap.
		var kek KEK
		kek[0] = 1
		got, err := UnwrapMasterKey(kek, unhex(t, wrappedKnownAnswer), []byte("ad"))
		if err != nil {
			t.Fatalf("UnwrapMasterKey(frozen) = %v", err)
		}
		if got != fixedMasterKey() {
			t.Fatal("frozen wrapped key unwrapped to a different master key")
		}
	})
}

func TestKeysAreRedacted(t *testing.T) {
	mk := fixedMasterKey()
	kek := KEK(mk)
	for _, verb := range []string{"%v", "%s", "%x", "%#v", "%+v"} {
		for _, v := range []any{mk, kek, &mk} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "00010203") || strings.Contains(out, "[0 1 2 3") || strings.Contains(out, "0x0, 0x1, 0x2") {
				t.Errorf("Sprintf(%q, %T) = %q leaks key bytes", verb, v, out)
			}
		}
	}
}
