package linktoken

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestIssueVerify(t *testing.T) {
	s, err := NewSigner([]byte("0123456789abcdef0123"), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tok, claims := s.Issue("member-1", "shoot-1", now)
	got, err := s.Verify(tok, now.Add(29*24*time.Hour))
	if err != nil || got.MemberID != "member-1" || got.ShootID != "shoot-1" || !got.ExpiresAt.Equal(claims.ExpiresAt) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	if _, err := s.Verify(tok, claims.ExpiresAt); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: %v, want ErrExpired", err)
	}
	other, _ := NewSigner([]byte("another-secret-of-20b"), time.Hour)
	if _, err := other.Verify(tok, now); !errors.Is(err, ErrInvalid) {
		t.Errorf("other secret: %v, want ErrInvalid", err)
	}
	payload, sig, _ := strings.Cut(tok, ".")
	forged, _ := s.Issue("member-2", "shoot-1", now)
	forgedPayload, _, _ := strings.Cut(forged, ".")
	for name, bad := range map[string]string{
		"empty": "", "no signature": payload, "swapped payload": forgedPayload + "." + sig,
		"flipped signature": payload + "." + strings.ToUpper(sig), "garbage": "!!!.???",
	} {
		if _, err := s.Verify(bad, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestExpiredForgeryIsInvalidNotExpired(t *testing.T) {
	s, _ := NewSigner([]byte("0123456789abcdef0123"), time.Hour)
	other, _ := NewSigner([]byte("another-secret-of-20b"), time.Hour)
	now := time.Now()
	tok, _ := other.Issue("m", "s", now.Add(-2*time.Hour))
	if _, err := s.Verify(tok, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("expired token of another secret: %v, want ErrInvalid", err)
	}
}

func TestNewSignerRefusesWeakSecrets(t *testing.T) {
	if _, err := NewSigner([]byte("short"), time.Hour); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := NewSigner([]byte("0123456789abcdef"), 0); err == nil {
		t.Error("zero lifetime accepted")
	}
}

// TestVerifyRefusesOtherSpellings: a genuine token whose signature's last character is
// changed to another with the same significant bits decodes to the same MAC under a
// lenient base64 decoder; it must still be refused, so each link has one spelling.
func TestVerifyRefusesOtherSpellings(t *testing.T) {
	s, err := NewSigner([]byte("0123456789abcdef0123"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tok, _ := s.Issue("member-1", "shoot-1", now)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	// A 32-byte MAC ends in a character whose low 2 bits are spare.
	for spare := range 4 {
		c := alphabet[last&^3|spare]
		if c == tok[len(tok)-1] {
			continue
		}
		if _, err := s.Verify(tok[:len(tok)-1]+string(c), now); !errors.Is(err, ErrInvalid) {
			t.Errorf("token with last character %q: %v, want ErrInvalid", c, err)
		}
	}
	// Decoders skip line breaks; the token's text is what counts.
	for _, brk := range []string{"\r", "\n", "\r\n"} {
		if _, err := s.Verify(tok[:len(tok)-5]+brk+tok[len(tok)-5:], now); !errors.Is(err, ErrInvalid) {
			t.Errorf("token with %q inside the signature: %v, want ErrInvalid", brk, err)
		}
	}
}
