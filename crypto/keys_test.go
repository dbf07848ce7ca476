package crypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func TestNewKeysSubkeysAreDistinct(t *testing.T) {
	k := NewKeys(fixedMasterKey(), "s")
	subkeys := map[string][32]byte{
		"content": k.content, "metadata": k.metadata, "chunk id": k.chunkID,
		"config auth": k.configAuth, "chunker": k.chunker,
	}
	seen := map[[32]byte]string{}
	for name, key := range subkeys {
		if key == ([32]byte{}) {
			t.Errorf("%s subkey is zero", name)
		}
		if key == [32]byte(fixedMasterKey()) {
			t.Errorf("%s subkey is the master key", name)
		}
		if other, ok := seen[key]; ok {
			t.Errorf("%s and %s subkeys are equal", name, other)
		}
		seen[key] = name
	}
	t.Run("store id changes every subkey", func(t *testing.T) {
		o := NewKeys(fixedMasterKey(), "t")
		if o.content == k.content || o.metadata == k.metadata || o.chunkID == k.chunkID ||
			o.configAuth == k.configAuth || o.chunker == k.chunker {
			t.Fatal("a subkey does not depend on the store ID")
		}
	})
	t.Run("store id", func(t *testing.T) {
		if k.StoreID() != "s" {
			t.Fatalf("StoreID() = %q", k.StoreID())
		}
	})
}

func TestChunkID(t *testing.T) {
	k := NewKeys(fixedMasterKey(), "s")
	id := k.ChunkID([]byte("content"))
	t.Run("format", func(t *testing.T) {
		if len(id) != 64 {
			t.Fatalf("len(ChunkID) = %d, want 64", len(id))
		}
		if _, err := hex.DecodeString(id); err != nil || id != toLower(id) {
			t.Fatalf("ChunkID %q is not lowercase hex", id)
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		if k.ChunkID([]byte("content")) != id {
			t.Fatal("same content gave different IDs")
		}
	})
	t.Run("content matters", func(t *testing.T) {
		if k.ChunkID([]byte("content!")) == id || k.ChunkID(nil) == id {
			t.Fatal("different content gave the same ID")
		}
	})
	t.Run("keyed", func(t *testing.T) {
		if NewKeys(fixedMasterKey(), "other").ChunkID([]byte("content")) == id {
			t.Fatal("another store gave the same ID")
		}
		if newTestKeys(t, "s").ChunkID([]byte("content")) == id {
			t.Fatal("another master key gave the same ID")
		}
	})
}

func TestConfigMAC(t *testing.T) {
	k := NewKeys(fixedMasterKey(), "s")
	data := []byte(`{"format":0,"store_id":"s"}`)
	mac := k.ConfigMAC(data)
	t.Run("verifies", func(t *testing.T) {
		if err := k.VerifyConfigMAC(data, mac); err != nil {
			t.Fatalf("VerifyConfigMAC: %v", err)
		}
	})
	t.Run("tampered data", func(t *testing.T) {
		for i := range data {
			bad := bytes.Clone(data)
			bad[i] ^= 1
			if err := k.VerifyConfigMAC(bad, mac); !errors.Is(err, ErrAuth) {
				t.Fatalf("byte %d flipped: VerifyConfigMAC = %v, want ErrAuth", i, err)
			}
		}
	})
	t.Run("tampered or short mac", func(t *testing.T) {
		for _, bad := range [][]byte{nil, mac[:16], append(bytes.Clone(mac), 0), flip(mac, 0), flip(mac, 31)} {
			if err := k.VerifyConfigMAC(data, bad); !errors.Is(err, ErrAuth) {
				t.Fatalf("VerifyConfigMAC(bad mac) = %v, want ErrAuth", err)
			}
		}
	})
	t.Run("other store", func(t *testing.T) {
		if err := NewKeys(fixedMasterKey(), "t").VerifyConfigMAC(data, mac); !errors.Is(err, ErrAuth) {
			t.Fatalf("VerifyConfigMAC(other store) = %v, want ErrAuth", err)
		}
	})
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 1
	return c
}

func toLower(s string) string { return string(bytes.ToLower([]byte(s))) }

func TestTreeIDDiffersFromChunkID(t *testing.T) {
	k := NewKeys(MasterKey{1}, "store")
	plain := []byte(`{"entries":[]}`)
	if k.TreeID(plain) == k.ChunkID(plain) {
		t.Fatal("a tree and a chunk of the same bytes share an ID")
	}
	if k.TreeID(plain) != k.TreeID(append([]byte(nil), plain...)) {
		t.Fatal("TreeID is not deterministic")
	}
	if len(k.TreeID(plain)) != ChunkIDLen {
		t.Fatalf("TreeID length %d", len(k.TreeID(plain)))
	}
}
