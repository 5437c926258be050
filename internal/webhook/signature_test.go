package webhook_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/headshotpro/retryd/internal/webhook"
)

var (
	sigTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	sigBody = []byte(`{"type":"retry.given","data":{"member":"Zoë ✓","note":"line\nbreak"}}`)
)

func newSecret(t *testing.T) string {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func headers(t *testing.T, secrets []string, msgID string, ts time.Time, body []byte) http.Header {
	t.Helper()
	h, err := webhook.Headers(secrets, msgID, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewSecret(t *testing.T) {
	a, b := newSecret(t), newSecret(t)
	if a == b {
		t.Fatalf("two secrets are equal: the random source is not used")
	}
	enc, ok := strings.CutPrefix(a, webhook.SecretPrefix)
	if !ok {
		t.Fatalf("secret lacks %s", webhook.SecretPrefix)
	}
	if key, err := base64.StdEncoding.DecodeString(enc); err != nil || len(key) != 32 {
		t.Fatalf("secret key: %d bytes, %v; want 32 bytes of standard base64", len(key), err)
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	secret := newSecret(t)
	h := headers(t, []string{secret}, "msg_1", sigTime, sigBody)
	for name, want := range map[string]string{
		"webhook-id":        "msg_1",
		"webhook-timestamp": strconv.FormatInt(sigTime.Unix(), 10),
		"Content-Type":      "application/json",
		"User-Agent":        "retryd-webhooks/1",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if sig := h.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") || strings.Contains(sig, " ") {
		t.Errorf("webhook-signature = %q, want one v1 signature", sig)
	}
	if err := webhook.Verify(secret, h, sigBody, sigTime.Add(4*time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	secret := newSecret(t)
	h := headers(t, []string{secret}, "msg_1", sigTime, sigBody)
	tampered := []byte(strings.Replace(string(sigBody), "Zoë", "Zoe", 1))
	without := func(name string) http.Header { c := h.Clone(); c.Del(name); return c }
	with := func(name, v string) http.Header { c := h.Clone(); c.Set(name, v); return c }
	otherVersion := "v2," + strings.TrimPrefix(h.Get("webhook-signature"), "v1,")
	const tol = 5 * time.Minute

	for _, tc := range []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"wrong secret", newSecret(t), h, sigBody, sigTime, webhook.ErrNoMatchingSignature},
		{"tampered body", secret, h, tampered, sigTime, webhook.ErrNoMatchingSignature},
		{"other message id", secret, with("webhook-id", "msg_2"), sigBody, sigTime, webhook.ErrNoMatchingSignature},
		{"moved timestamp", secret, with("webhook-timestamp", strconv.FormatInt(sigTime.Unix()+1, 10)), sigBody, sigTime, webhook.ErrNoMatchingSignature},
		{"only another version", secret, with("webhook-signature", otherVersion), sigBody, sigTime, webhook.ErrNoMatchingSignature},
		{"too old", secret, h, sigBody, sigTime.Add(tol + time.Second), webhook.ErrTimestamp},
		{"too new", secret, h, sigBody, sigTime.Add(-tol - time.Second), webhook.ErrTimestamp},
		{"timestamp not a number", secret, with("webhook-timestamp", "2026-03-14T15:09:26Z"), sigBody, sigTime, webhook.ErrTimestamp},
		{"timestamp far out", secret, with("webhook-timestamp", "-9223372036854775808"), sigBody, sigTime, webhook.ErrTimestamp},
		{"no id", secret, without("webhook-id"), sigBody, sigTime, webhook.ErrMissingHeaders},
		{"no timestamp", secret, without("webhook-timestamp"), sigBody, sigTime, webhook.ErrMissingHeaders},
		{"no signature", secret, without("webhook-signature"), sigBody, sigTime, webhook.ErrMissingHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := webhook.Verify(tc.secret, tc.h, tc.body, tc.now, tol); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if err := webhook.Verify(secret, with("webhook-signature", "v1,@@ v1 "+otherVersion+" "+h.Get("webhook-signature")), sigBody, sigTime, tol); err != nil {
		t.Errorf("a valid v1 signature among junk and other versions: %v", err)
	}
}

// While a secret rotates, receivers holding either the new or the previous secret
// verify every message.
func TestRotationSignsWithEverySecret(t *testing.T) {
	current, previous := newSecret(t), newSecret(t)
	h := headers(t, []string{current, previous}, "msg_rot", sigTime, sigBody)
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 2 {
		t.Fatalf("webhook-signature holds %d signatures, want 2", n)
	}
	for _, s := range []string{current, previous} {
		if err := webhook.Verify(s, h, sigBody, sigTime, time.Minute); err != nil {
			t.Errorf("Verify with one of the two secrets: %v", err)
		}
	}
	if err := webhook.Verify(newSecret(t), h, sigBody, sigTime, time.Minute); !errors.Is(err, webhook.ErrNoMatchingSignature) {
		t.Errorf("Verify with a third secret = %v, want ErrNoMatchingSignature", err)
	}
}

func TestMalformedSecret(t *testing.T) {
	const secretText = "hunter2-not-base64!"
	for _, secret := range []string{
		"",
		secretText, // no prefix
		webhook.SecretPrefix + secretText,
		webhook.SecretPrefix + base64.StdEncoding.EncodeToString([]byte("short")),
		webhook.SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 65)),
	} {
		_, err := webhook.Sign(secret, "msg", sigTime, sigBody)
		var se *webhook.SecretError
		if !errors.As(err, &se) {
			t.Errorf("Sign(%q) error = %v, want *SecretError", secret, err)
			continue
		}
		if secret != "" && strings.Contains(err.Error(), strings.TrimPrefix(secret, webhook.SecretPrefix)) {
			t.Errorf("the error %q repeats the secret", err)
		}
		if err := webhook.Verify(secret, http.Header{}, sigBody, sigTime, time.Minute); !errors.As(err, &se) {
			t.Errorf("Verify with %q = %v, want *SecretError", secret, err)
		}
	}
	if _, err := webhook.SignatureHeader([]string{newSecret(t), "whsec_"}, "msg", sigTime, sigBody); err == nil {
		t.Errorf("SignatureHeader signed with a malformed second secret")
	}
	if _, err := webhook.Headers(nil, "msg", sigTime, sigBody); err == nil {
		t.Errorf("Headers signed with no secret")
	}
}

// The published vector of the Standard Webhooks Go library's TestWebhookSign
// (github.com/standard-webhooks/standard-webhooks, libraries/go/webhook_test.go at
// libraries v1.3.0; the C#, Java and other libraries' tests use the same one).
func TestPublishedVector(t *testing.T) {
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

// The reference library accepts what we send, each rotation secret alone. Its Verify
// reads the clock, so the message is stamped now.
func TestStandardWebhooksLibraryVerifies(t *testing.T) {
	current, previous := newSecret(t), newSecret(t)
	now := time.Now()
	h := headers(t, []string{current, previous}, "msg_lib", now, sigBody)
	for _, s := range []string{current, previous} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(sigBody, h); err != nil {
			t.Errorf("standardwebhooks Verify: %v", err)
		}
		if err := wh.Verify(append([]byte(" "), sigBody...), h); err == nil {
			t.Errorf("standardwebhooks verified a changed body")
		}
	}
	wh, err := standardwebhooks.NewWebhook(newSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(sigBody, h); err == nil {
		t.Errorf("standardwebhooks verified with a secret that did not sign")
	}
}

// nodeVerify checks a signature header the way a Node receiver would, with node:crypto,
// and exits 3 when no v1 signature matches (1 would also be a crash).
const nodeVerify = `
const { createHmac } = require('node:crypto');
const e = process.env;
const key = Buffer.from(e.SECRET.slice('whsec_'.length), 'base64');
const body = require('node:fs').readFileSync(0);
const want = 'v1,' + createHmac('sha256', key).update(e.MSG_ID + '.' + e.TS + '.').update(body).digest('base64');
process.exit(e.SIG.split(' ').includes(want) ? 0 : 3);
`

func TestNodeReceiverVerifies(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is not on PATH: %v", err)
		}
		t.Skipf("node is not on PATH: %v", err)
	}
	current, previous := newSecret(t), newSecret(t)
	h := headers(t, []string{current, previous}, "msg_node", sigTime, sigBody)
	run := func(secret string, body []byte) int {
		cmd := exec.CommandContext(t.Context(), node, "-e", nodeVerify)
		cmd.Env = append(os.Environ(), "SECRET="+secret, "MSG_ID="+h.Get("webhook-id"),
			"TS="+h.Get("webhook-timestamp"), "SIG="+h.Get("webhook-signature"))
		cmd.Stdin = strings.NewReader(string(body))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("node: %v", err)
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 && code != 3 {
			t.Fatalf("node exited %d: %s", code, out)
		}
		return cmd.ProcessState.ExitCode()
	}
	for _, s := range []string{current, previous} {
		if code := run(s, sigBody); code != 0 {
			t.Errorf("node found no matching signature for one of the rotation secrets")
		}
	}
	if code := run(current, append(sigBody, '\n')); code != 3 {
		t.Errorf("node verified a changed body")
	}
	if code := run(newSecret(t), sigBody); code != 3 {
		t.Errorf("node verified with a secret that did not sign")
	}
}
