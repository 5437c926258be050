package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret, as in the Standard Webhooks libraries, so a
// secret pasted into the wrong field is recognizable.
const SecretPrefix = "whsec_"

// The Standard Webhooks spec asks for keys of 24 to 64 bytes; NewSecret makes 32.
const (
	secretBytes    = 32
	minSecretBytes = 24
	maxSecretBytes = 64
)

// The Standard Webhooks header names. http.Header canonicalizes them on Set and Get;
// receivers match them case-insensitively as HTTP requires.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// UserAgent names retryd's webhook sender to receivers; the number changes only when the
// signing scheme does.
const UserAgent = "retryd-webhooks/1"

var (
	// ErrMissingHeaders: the request lacks one of the three webhook-* headers.
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	// ErrTimestamp: webhook-timestamp is not a Unix time in seconds, or is further from
	// now than the tolerance (a replay, or a badly wrong clock).
	ErrTimestamp = errors.New("webhook: timestamp invalid or outside tolerance")
	// ErrNoMatchingSignature: no v1 signature in webhook-signature was made with the
	// secret over this id, timestamp and body.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)

// SecretError reports a malformed signing secret. It says what is wrong with the secret,
// never what the secret is: errors end up in logs.
type SecretError struct {
	Reason string
}

func (e *SecretError) Error() string { return "webhook: malformed signing secret: " + e.Reason }

// NewSecret returns a fresh signing secret: SecretPrefix and 32 random bytes in standard
// base64, the form the Standard Webhooks libraries accept.
func NewSecret() (string, error) {
	key := make([]byte, secretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// secretKey returns the HMAC key a secret carries.
func secretKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, &SecretError{Reason: "it does not start with " + SecretPrefix}
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, &SecretError{Reason: "the part after " + SecretPrefix + " is not standard base64"}
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, &SecretError{Reason: fmt.Sprintf("its key is %d bytes, want %d to %d", len(key), minSecretBytes, maxSecretBytes)}
	}
	return key, nil
}

// mac is HMAC-SHA256 over "msgID.timestamp.body", the Standard Webhooks signed content.
func mac(key []byte, msgID string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, unix, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Sign returns the Standard Webhooks v1 signature ("v1," and the base64 MAC) of one
// message under one secret. The timestamp counts in whole seconds.
func Sign(secret, msgID string, timestamp time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, timestamp.Unix(), body)), nil
}

// SignatureHeader returns the webhook-signature value for a message: one signature per
// secret, space-separated. While a secret is rotated both the new and the previous one
// sign, so receivers holding either keep verifying.
func SignatureHeader(secrets []string, msgID string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", &SecretError{Reason: "no signing secret given"}
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// Headers returns the headers of a webhook request: the three Standard Webhooks headers,
// a JSON content type and retryd's user agent.
func Headers(secrets []string, msgID string, ts time.Time, body []byte) (http.Header, error) {
	sig, err := SignatureHeader(secrets, msgID, ts, body)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, 5)
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	return h, nil
}

// Verify checks a received webhook the way a receiver should: the headers are present,
// the timestamp is within tolerance of now (either side, against replays), and one of
// the v1 signatures in webhook-signature is the secret's over this id, timestamp and
// body. Signatures of other versions are skipped, as the spec asks. retryd itself only
// sends; Verify is here for tests, documentation and receivers written in Go.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := secretKey(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not a Unix time in seconds", ErrTimestamp, tsText)
	}
	// Compare whole seconds against bounds computed from now: a subtraction involving
	// the sender's number could overflow.
	nowUnix, tol := now.Unix(), int64(tolerance/time.Second)
	if unix < nowUnix-tol {
		return fmt.Errorf("%w: older than the tolerance of %s", ErrTimestamp, tolerance)
	}
	if unix > nowUnix+tol {
		return fmt.Errorf("%w: further in the future than the tolerance of %s", ErrTimestamp, tolerance)
	}
	want := mac(key, id, unix, body)
	for _, field := range strings.Fields(sigs) {
		version, enc, ok := strings.Cut(field, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}
