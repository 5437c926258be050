package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultTimeout bounds an attempt when NewSender is given no timeout. Receivers
	// should queue a message and answer at once; one that takes longer is failing.
	DefaultTimeout = 15 * time.Second
	// responseDrainLimit is how much of a response body is read, and thrown away, so
	// the connection can be reused; past it the connection is closed instead.
	responseDrainLimit = 64 << 10
	// maxRetryAfter caps how long a receiver's Retry-After can hold a message back.
	maxRetryAfter = 24 * time.Hour
)

// Outcome is what an attempt means for the message's delivery.
type Outcome int

const (
	// OutcomeDelivered: the receiver answered 2xx.
	OutcomeDelivered Outcome = iota + 1
	// OutcomeGone: the receiver answered 410 Gone, asking for no more messages; the
	// caller should disable the endpoint rather than retry.
	OutcomeGone
	// OutcomeRetry: any other answer (redirects included, since they are not followed),
	// a timeout or a connection failure. Try again later.
	OutcomeRetry
	// OutcomeRefused: the URL guard refused the URL or the address its host resolved
	// to; Attempt.Err is the *URLError. Retryable too, on the same schedule, since DNS
	// can change, but worth showing the admin as it is: no request was sent.
	OutcomeRefused
)

func (o Outcome) String() string {
	switch o {
	case OutcomeDelivered:
		return "delivered"
	case OutcomeGone:
		return "gone"
	case OutcomeRetry:
		return "retry"
	case OutcomeRefused:
		return "refused"
	default:
		return "Outcome(" + strconv.Itoa(int(o)) + ")"
	}
}

// Retryable reports whether the message should be tried again later.
func (o Outcome) Retryable() bool { return o == OutcomeRetry || o == OutcomeRefused }

// Attempt is the result of one delivery attempt. StatusCode is 0 exactly when Err is
// set: no HTTP answer came back. RetryAfter is the receiver's Retry-After (seconds or an
// HTTP date, at most 24h), 0 when absent or unusable. Err never holds a secret nor the
// URL's path or query, which may carry the receiver's token.
type Attempt struct {
	StatusCode int
	RetryAfter time.Duration
	Latency    time.Duration
	Err        error
}

// Outcome classifies the attempt. Standard Webhooks senders retry every answer but 2xx;
// 410 is the one a receiver uses to say stop.
func (a Attempt) Outcome() Outcome {
	var refused *URLError
	switch {
	case a.Err != nil && errors.As(a.Err, &refused):
		return OutcomeRefused
	case a.Err != nil:
		return OutcomeRetry
	case a.StatusCode >= 200 && a.StatusCode <= 299:
		return OutcomeDelivered
	case a.StatusCode == http.StatusGone:
		return OutcomeGone
	default:
		return OutcomeRetry
	}
}

// Sender makes single webhook delivery attempts. It is safe for concurrent use and
// keeps connections to receivers alive between attempts.
type Sender struct {
	policy Policy
	client *http.Client
	now    func() time.Time
}

// NewSender returns a Sender that connects only to addresses policy allows, follows no
// redirects (the target would escape CheckURL), uses no proxy from the environment (a
// proxy would connect on our behalf, past the address check), and gives each attempt at
// most timeout, reading the answer included (DefaultTimeout when timeout ≤ 0).
func NewSender(policy Policy, timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return newSender(policy, timeout, policy.dialer(timeout, nil))
}

func newSender(policy Policy, timeout time.Duration, dialer *net.Dialer) *Sender {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Sender{
		policy: policy,
		client: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		now: time.Now,
	}
}

// Send POSTs body to u once, signed with every secret (current first, then the previous
// one while a rotation lasts). The URL is checked again against the policy, short of
// DNS; the addresses are checked as they are connected to. ts is the message's
// timestamp for webhook-timestamp: the time of this attempt, so receivers' replay
// tolerance holds for late retries.
func (s *Sender) Send(ctx context.Context, u string, secrets []string, msgID string, ts time.Time, body []byte) Attempt {
	target, _, err := s.policy.parse(u)
	if err != nil {
		return Attempt{Err: err}
	}
	header, err := Headers(secrets, msgID, ts, body)
	if err != nil {
		return Attempt{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(body))
	if err != nil {
		return Attempt{Err: err}
	}
	req.URL, req.Host, req.Header = target, "", header

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return Attempt{Latency: time.Since(start), Err: redact(err)}
	}
	defer resp.Body.Close()
	// What the receiver answers is not ours to keep; reading some lets the connection
	// be reused, and a failure to read does not change the status it answered.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, responseDrainLimit))
	return Attempt{
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), s.now()),
		Latency:    time.Since(start),
	}
}

// redact replaces the URL that net/http quotes in its errors with the URL's origin: a
// webhook URL's path or query often carries the receiver's token. The wrapped error is
// kept, so errors.As still finds a timeout under it, except that a guard refusal is
// kept alone: the dial error around it names the refused address, which CheckURL does
// not tell admins either.
func redact(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	origin := "the webhook URL"
	if parsed, perr := url.Parse(ue.URL); perr == nil && parsed.Host != "" {
		origin = parsed.Scheme + "://" + parsed.Host + "/…"
	}
	inner := ue.Err
	var refused *URLError
	if errors.As(inner, &refused) {
		inner = refused
	}
	return &url.Error{Op: ue.Op, URL: origin, Err: inner}
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date, into a
// delay from now of at most maxRetryAfter; anything unusable or already past is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(maxRetryAfter/time.Second) {
			// Only digits, so the error is overflow: a very long delay.
			return maxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}
