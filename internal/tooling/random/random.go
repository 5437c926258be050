// Package random makes the random strings of one harness run: its secrets, API keys and
// database names.
package random

import (
	"crypto/rand"
	"encoding/hex"
)

// Hex is n random bytes in hex.
func Hex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
