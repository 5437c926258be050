// Package linktoken signs and verifies the member action links of retry and restart
// emails: an HMAC-SHA256 over the member, the shoot and an expiry, so a link works for
// one shoot of one member until it expires and cannot be forged without the server secret.
package linktoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Errors returned by Verify; the API maps them to invalid_token and token_expired.
var (
	ErrInvalid = errors.New("link token is not valid")
	ErrExpired = errors.New("link token has expired")
)

// Claims are what a token binds.
type Claims struct {
	MemberID  string
	ShootID   string
	ExpiresAt time.Time
}

// Signer issues and verifies tokens with one secret.
type Signer struct {
	secret []byte
	ttl    time.Duration
}

// NewSigner needs a secret of at least 16 bytes.
func NewSigner(secret []byte, ttl time.Duration) (*Signer, error) {
	if len(secret) < 16 {
		return nil, errors.New("link secret must be at least 16 bytes")
	}
	if ttl <= 0 {
		return nil, errors.New("link lifetime must be positive")
	}
	return &Signer{secret: append([]byte(nil), secret...), ttl: ttl}, nil
}

const version = "v1"

// Issue returns a token for the member's shoot that expires ttl after now.
func (s *Signer) Issue(memberID, shootID string, now time.Time) (string, Claims) {
	c := Claims{MemberID: memberID, ShootID: shootID, ExpiresAt: now.Add(s.ttl).Truncate(time.Second)}
	payload := strings.Join([]string{version, memberID, shootID, strconv.FormatInt(c.ExpiresAt.Unix(), 10)}, ".")
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return enc + "." + base64.RawURLEncoding.EncodeToString(s.mac(enc)), c
}

// Verify checks the signature first and the expiry second, so an expired token is only
// reported as expired when it is genuine.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	enc, sig, ok := strings.Cut(token, ".")
	if !ok || enc == "" || sig == "" {
		return Claims{}, ErrInvalid
	}
	// The signature is compared as text with the one the server would issue, not decoded:
	// base64 decoders skip \r and \n and ignore the spare bits of the last character,
	// so decoding would let one genuine token verify under many spellings.
	want := base64.RawURLEncoding.EncodeToString(s.mac(enc))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return Claims{}, ErrInvalid
	}
	// The payload is covered by the MAC as text, so it is exactly what Issue wrote.
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 4 || parts[0] != version {
		return Claims{}, ErrInvalid
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	c := Claims{MemberID: parts[1], ShootID: parts[2], ExpiresAt: time.Unix(exp, 0).UTC()}
	if !now.Before(c.ExpiresAt) {
		return c, ErrExpired
	}
	return c, nil
}

func (s *Signer) mac(msg string) []byte {
	h := hmac.New(sha256.New, s.secret)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// ActionURL is a member's link to start a shoot: the landing page with the token.
func ActionURL(base, shootID, token string) string {
	return base + "/app/shoots/" + url.PathEscape(shootID) + "/start?token=" + url.QueryEscape(token)
}
