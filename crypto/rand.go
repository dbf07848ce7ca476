package crypto

import "crypto/rand"

// mustRandom fills b from crypto/rand. A failing system RNG is not a
// condition any caller could handle (crypto/rand itself treats it as fatal
// since Go 1.24), so it panics.
func mustRandom(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("crypto: system random number generator failed: " + err.Error())
	}
}
