package linktoken

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var fuzzNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func fuzzSigner(t testing.TB) *Signer {
	s, err := NewSigner([]byte("fuzz-secret-0123456789"), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzVerify: no token makes Verify panic, and every token it accepts, or reports as
// expired, carries this signer's MAC over its payload: a token cannot be made without
// the secret, whatever its bytes.
func FuzzVerify(f *testing.F) {
	s := fuzzSigner(f)
	genuine, _ := s.Issue("8f8a2c1e-3a5b-4c1d-9e2f-0123456789ab", "0b7c5d4e-1f2a-4b3c-8d9e-abcdef012345", fuzzNow)
	expired, _ := s.Issue("m", "s", fuzzNow.Add(-60*24*time.Hour))
	enc, sig, _ := strings.Cut(genuine, ".")
	for _, seed := range []string{
		genuine, expired, "", ".", "a.b", enc + ".", "." + sig, enc + "." + sig + ".",
		enc + "." + strings.ToUpper(sig), genuine + "=", "Bearer " + genuine,
		base64.RawURLEncoding.EncodeToString([]byte("v1.m.s.99999999999999999999")) + "." + sig,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token, fuzzNow)
		if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) {
			t.Fatalf("Verify(%q) = %v, want ErrInvalid or ErrExpired", token, err)
		}
		if err != nil && !errors.Is(err, ErrExpired) {
			return
		}
		payload, gotSig, _ := strings.Cut(token, ".")
		if want := base64.RawURLEncoding.EncodeToString(s.mac(payload)); gotSig != want {
			t.Fatalf("Verify accepted %q (claims %+v, err %v) without a genuine signature", token, c, err)
		}
		if (err == nil) != fuzzNow.Before(c.ExpiresAt) {
			t.Fatalf("Verify(%q) = %v with expiry %s at %s", token, err, c.ExpiresAt, fuzzNow)
		}
	})
}

// FuzzIssueVerify: a token issued for a member and shoot verifies as exactly those,
// until its expiry and not after. Ids never contain dots (they are UUIDs), and the
// payload separates fields with dots, so such ids are outside the contract.
func FuzzIssueVerify(f *testing.F) {
	s := fuzzSigner(f)
	f.Add("8f8a2c1e-3a5b-4c1d-9e2f-0123456789ab", "0b7c5d4e-1f2a-4b3c-8d9e-abcdef012345", int64(0))
	f.Add("", "", int64(-1))
	f.Add("ü", "\x00", int64(1<<40))
	f.Fuzz(func(t *testing.T, member, shoot string, offset int64) {
		if strings.Contains(member, ".") || strings.Contains(shoot, ".") {
			return
		}
		now := fuzzNow.Add(time.Duration(offset % int64(100*365*24*time.Hour)))
		tok, claims := s.Issue(member, shoot, now)
		got, err := s.Verify(tok, now)
		if err != nil || got != claims || got.MemberID != member || got.ShootID != shoot {
			t.Fatalf("Verify(Issue(%q, %q)) = %+v, %v; issued %+v", member, shoot, got, err, claims)
		}
		if _, err := s.Verify(tok, claims.ExpiresAt); !errors.Is(err, ErrExpired) {
			t.Fatalf("at expiry: %v, want ErrExpired", err)
		}
	})
}
