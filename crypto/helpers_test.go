package crypto

import (
	"testing"
)

// testParams are Argon2id parameters small enough for unit tests.
func testParams(t testing.TB) KDFParams {
	t.Helper()
	return KDFParams{
		Algorithm: AlgorithmArgon2id,
		MemoryKiB: 8 << 10,
		Time:      1,
		Threads:   1,
		Salt:      []byte("0123456789abcdef0123456789abcdef"),
	}
}

// fixedMasterKey returns a master key whose bytes are 0, 1, 2, ... so that
// known-answer tests are reproducible.
func fixedMasterKey() MasterKey {
	var mk MasterKey
	for i := range mk {
		mk[i] = byte(i)
	}
	return mk
}

func newTestKeys(t testing.TB, storeID string) *Keys {
	t.Helper()
	mk, err := NewMasterKey()
	if err != nil {
		t.Fatalf("NewMasterKey: %v", err)
	}
	return NewKeys(mk, storeID)
}
