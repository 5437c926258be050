// Package apikey makes and checks API keys. A key is shown once; only its SHA-256 is
// stored. Keys are 256 random bits, so a plain hash is enough: no salt or slow KDF is
// needed to resist guessing, and a hash lookup stays an index probe.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Prefix marks retryd keys so leaked ones are easy to spot by secret scanners.
const Prefix = "rk_"

// secretBytes is the randomness of a generated key.
const secretBytes = 32

// GeneratedLen is the length of a generated key: the prefix and 32 random bytes in
// unpadded base64url (43 characters). Seed files may not bring shorter keys.
const GeneratedLen = len(Prefix) + (secretBytes*8+5)/6

// Generate returns a new secret key, the short prefix kept to recognise it in listings,
// and the hash to store.
func Generate() (secret, displayPrefix string, hash []byte) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	secret = Prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, Display(secret), Hash(secret)
}

// Hash is the stored form of a key.
func Hash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// Display is the part of a key safe to show in listings and audit logs.
func Display(secret string) string {
	if len(secret) <= len(Prefix)+6 {
		return Prefix + "…"
	}
	return secret[:len(Prefix)+6] + "…"
}

// FromAuthorization extracts a bearer token from an Authorization header value.
func FromAuthorization(header string) (string, bool) {
	const scheme = "bearer "
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	tok := strings.TrimSpace(header[len(scheme):])
	return tok, tok != ""
}
