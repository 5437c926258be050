package apikey

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzFromAuthorization: any header value is handled without a panic, and a token is
// only taken from a "Bearer" header (any case), non-empty and without surrounding space.
// Sending it back as "Bearer <token>" yields the same token.
func FuzzFromAuthorization(f *testing.F) {
	key, _, _ := Generate()
	for _, seed := range []string{
		"", "Bearer", "Bearer ", "Bearer  ", "bearer " + key, "BEARER\t" + key, "Bearer " + key + " ",
		"Basic dXNlcjpwYXNz", "Bearer a b", "Bearerx " + key, "Bearer \x00", "Bearer é",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := FromAuthorization(header)
		if !ok {
			if tok != "" {
				t.Fatalf("FromAuthorization(%q) refused but returned %q", header, tok)
			}
			return
		}
		if tok == "" || tok != strings.TrimSpace(tok) {
			t.Fatalf("FromAuthorization(%q) = %q: empty or padded", header, tok)
		}
		if !strings.EqualFold(header[:len("bearer ")], "bearer ") || !strings.Contains(header, tok) {
			t.Fatalf("FromAuthorization(%q) = %q from a header that is not Bearer", header, tok)
		}
		if again, ok := FromAuthorization("Bearer " + tok); !ok || again != tok {
			t.Fatalf("round trip of %q = %q, %v", tok, again, ok)
		}
	})
}

// FuzzDisplay: the listing form of any key shows at most the prefix and six characters,
// so a listing or audit line never holds a usable key; Hash is deterministic and keys
// that differ hash differently.
func FuzzDisplay(f *testing.F) {
	key, _, _ := Generate()
	for _, seed := range []string{key, "", "rk_", "rk_123456", "rk_1234567", "ü€𝄞ü€𝄞ü€𝄞"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, secret string) {
		d := Display(secret)
		shown := strings.TrimSuffix(d, "…")
		if len(shown) > len(Prefix)+6 {
			t.Fatalf("Display(%q) = %q shows more than the prefix and six characters", secret, d)
		}
		if len(secret) > len(Prefix)+6 && (!strings.HasPrefix(secret, shown) || len(shown) >= len(secret)) {
			t.Fatalf("Display(%q) = %q is not a strict prefix of the key", secret, d)
		}
		if !bytes.Equal(Hash(secret), Hash(secret)) || len(Hash(secret)) != 32 {
			t.Fatalf("Hash(%q) is not a stable SHA-256", secret)
		}
		if other := secret + "x"; bytes.Equal(Hash(secret), Hash(other)) {
			t.Fatalf("Hash(%q) == Hash(%q)", secret, other)
		}
	})
}
