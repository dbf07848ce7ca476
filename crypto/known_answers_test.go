package crypto

import (
	"encoding/hex"
	"strconv"
	"testing"
)

// Frozen outputs of format version 1, made with fixedMasterKey and store ID
// "store-golden" (see TestKnownAnswers, TestDeriveKEK, TestWrapMasterKey).
const (
	sealedKnownAnswer     = "0103c91635788d2dcbfe9569301bc8632250dd3d6c6ab35ec750f34e381e7e7675c3133af9d755068eb8f766265ed5e305096c4a0af9a11e4a5b3e0311"
	chunkIDKnownAnswer    = "1e695713136dde6b1df131124ffa91e271dc2db0dbc347219b6e2bac6fc7a3f2"
	configMACKnownAnswer  = "d10e09737ab104098ae1b76437e5f014df1ad298d277f4ae83592473499841c5"
	chunkerKeyKnownAnswer = "eab0ada6f52e68f8cd119a12e266778f5db337741f8a0caefe88fee487d4e030"
	wrappedKnownAnswer    = "01b4118b6a7fc7e3bf05b50ef4166c71086696aee12169e8072f8b730443f0bfbad94f27938ac2fb74b0a95bd9deb3791466d2b6c1ad73c61b76477443"
	kekKnownAnswer        = "41e990b33b77cdb28967562c7f76c5b56953e303bda70ae0a4c803a85802cd4d"
)

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hexDecode(s)
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

func itoa(n int) string { return strconv.Itoa(n) }
