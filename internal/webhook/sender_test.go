package webhook

import (
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/dnstest"
)

var sendTime = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

const sendBody = `{"type":"retry.given","data":{"retry_id":"r_1"}}`

// receiver is a webhook endpoint that verifies what it gets with Verify, counts the
// requests, and answers with respond.
type receiver struct {
	srv      *httptest.Server
	secret   string
	requests atomic.Int32
	verified atomic.Int32
}

func startReceiver(t *testing.T, tls bool, respond func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{secret: secret}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && string(body) == sendBody &&
			r.Header.Get("User-Agent") == UserAgent &&
			Verify(rc.secret, r.Header, body, sendTime, time.Minute) == nil {
			rc.verified.Add(1)
		}
		respond(w, r)
	})
	if tls {
		rc.srv = httptest.NewTLSServer(h)
	} else {
		rc.srv = httptest.NewServer(h)
	}
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) send(t *testing.T, s *Sender, url string) Attempt {
	t.Helper()
	return s.Send(t.Context(), url, []string{rc.secret}, "msg_1", sendTime, []byte(sendBody))
}

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func TestSendClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		respond    func(http.ResponseWriter, *http.Request)
		status     int
		outcome    Outcome
		retryAfter time.Duration
	}{
		{"200", status(200), 200, OutcomeDelivered, 0},
		{"204", status(204), 204, OutcomeDelivered, 0},
		{"500", status(500), 500, OutcomeRetry, 0},
		{"410", status(410), 410, OutcomeGone, 0},
		{"400", status(400), 400, OutcomeRetry, 0},
		{"429 Retry-After", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(http.StatusTooManyRequests)
		}, 429, OutcomeRetry, 120 * time.Second},
		{"503 Retry-After too long", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "999999")
			w.WriteHeader(http.StatusServiceUnavailable)
		}, 503, OutcomeRetry, 24 * time.Hour},
		{"200 with a large body", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
		}, 200, OutcomeDelivered, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := startReceiver(t, false, tc.respond)
			a := rc.send(t, NewSender(devPolicy, 10*time.Second), rc.srv.URL+"/hook")
			if a.Err != nil || a.StatusCode != tc.status || a.Outcome() != tc.outcome || a.RetryAfter != tc.retryAfter {
				t.Fatalf("attempt %+v (%s), want status %d, %s, Retry-After %s", a, a.Outcome(), tc.status, tc.outcome, tc.retryAfter)
			}
			if rc.requests.Load() != 1 || rc.verified.Load() != 1 {
				t.Fatalf("receiver got %d requests, %d verified; want 1 verified", rc.requests.Load(), rc.verified.Load())
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	rc := startReceiver(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			elsewhere.Add(1)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	a := rc.send(t, NewSender(devPolicy, 10*time.Second), rc.srv.URL+"/hook")
	if a.Err != nil || a.StatusCode != http.StatusTemporaryRedirect || a.Outcome() != OutcomeRetry {
		t.Fatalf("attempt %+v (%s), want status 307 and retry", a, a.Outcome())
	}
	if elsewhere.Load() != 0 || rc.requests.Load() != 1 {
		t.Fatalf("the redirect was followed")
	}
}

func TestSendTimesOut(t *testing.T) {
	rc := startReceiver(t, false, func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the sender gives up and hangs up
	})
	a := rc.send(t, NewSender(devPolicy, 200*time.Millisecond), rc.srv.URL+"/hook?token=s3cret")
	var ne net.Error
	if a.StatusCode != 0 || a.Outcome() != OutcomeRetry || !errors.As(a.Err, &ne) || !ne.Timeout() {
		t.Fatalf("attempt %+v (%s), want a timeout to retry", a, a.Outcome())
	}
	if msg := a.Err.Error(); strings.Contains(msg, "s3cret") || strings.Contains(msg, "/hook") {
		t.Fatalf("the error %q repeats the URL's path or query", msg)
	}
}

func TestSendRefusedAddress(t *testing.T) {
	rc := startReceiver(t, false, status(200))
	a := rc.send(t, NewSender(Policy{AllowHTTP: true}, 10*time.Second), rc.srv.URL+"/hook/s3cret-path?token=s3cret")
	var ue *URLError
	if a.StatusCode != 0 || a.Outcome() != OutcomeRefused || !a.Outcome().Retryable() || !errors.As(a.Err, &ue) || ue.Code != CodeURLForbiddenAddress {
		t.Fatalf("attempt %+v (%s), want refused by the guard", a, a.Outcome())
	}
	if msg := a.Err.Error(); strings.Contains(msg, "s3cret") || strings.Contains(msg, "dial tcp 127.0.0.1") {
		t.Fatalf("the error %q repeats the URL's path or query, or the refused address", msg)
	}
	if rc.requests.Load() != 0 {
		t.Fatalf("the refused request reached the receiver")
	}
}

func TestSendRefusesBeforeConnecting(t *testing.T) {
	rc := startReceiver(t, false, status(200))
	s := NewSender(devPolicy, 10*time.Second)
	for _, tc := range []struct {
		url, secret string
		outcome     Outcome
	}{
		{"ftp://127.0.0.1/", rc.secret, OutcomeRefused},
		{strings.Replace(rc.srv.URL, "http://", "http://user:pw@", 1), rc.secret, OutcomeRefused},
		{rc.srv.URL, "whsec_not base64", OutcomeRetry},
	} {
		a := s.Send(t.Context(), tc.url, []string{tc.secret}, "msg_1", sendTime, []byte(sendBody))
		if a.Err == nil || a.Outcome() != tc.outcome || strings.Contains(a.Err.Error(), "pw") {
			t.Errorf("%s: attempt %+v (%s), want an error and %s", tc.url, a, a.Outcome(), tc.outcome)
		}
	}
	if rc.requests.Load() != 0 {
		t.Fatalf("a request reached the receiver")
	}
}

// DNS rebinding: the host passes CheckURL while it resolves to a public address, then
// resolves to loopback when the delivery connects. The production policy refuses at
// connect time; a policy allowing loopback delivers, over TLS to the same name.
func TestSendRefusesRebinding(t *testing.T) {
	rc := startReceiver(t, true, status(200))
	_, port, err := net.SplitHostPort(rc.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// httptest's certificate is valid for *.example.com.
	dns := dnstest.Start(t, map[string][]string{"hooks.example.com": {"93.184.216.34"}})
	url := "https://hooks.example.com:" + port + "/hook?token=s3cret"
	if _, err := prodPolicy.CheckURL(t.Context(), url, dns.Resolver()); err != nil {
		t.Fatalf("CheckURL while the name is public: %v", err)
	}
	dns.Set("hooks.example.com", "127.0.0.1")

	sender := func(p Policy) *Sender {
		s := newSender(p, 10*time.Second, p.dialer(10*time.Second, dns.Resolver()))
		roots := x509.NewCertPool()
		roots.AddCert(rc.srv.Certificate())
		s.client.Transport.(*http.Transport).TLSClientConfig.RootCAs = roots
		return s
	}
	a := rc.send(t, sender(prodPolicy), url)
	var ue *URLError
	if a.Outcome() != OutcomeRefused || !errors.As(a.Err, &ue) || ue.Code != CodeURLForbiddenAddress {
		t.Fatalf("production policy after rebinding: attempt %+v (%s), want refused", a, a.Outcome())
	}
	if strings.Contains(a.Err.Error(), "s3cret") {
		t.Fatalf("the error %q repeats the URL's query", a.Err)
	}
	if rc.requests.Load() != 0 {
		t.Fatalf("the rebound request reached the receiver")
	}

	if a := rc.send(t, sender(Policy{AllowLoopback: true}), url); a.Outcome() != OutcomeDelivered {
		t.Fatalf("AllowLoopback: attempt %+v (%s), want delivered", a, a.Outcome())
	}
	if rc.verified.Load() != 1 {
		t.Fatalf("receiver verified %d requests, want 1", rc.verified.Load())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"30", 30 * time.Second},
		{" 30 ", 30 * time.Second},
		{"86400", 24 * time.Hour},
		{"86401", 24 * time.Hour},
		{"99999999999999999999999", 24 * time.Hour},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"Sat, 14 Mar 2026 15:02:00 GMT", 2 * time.Minute},
		{"Saturday, 14-Mar-26 15:02:00 GMT", 2 * time.Minute},
		{"Sat Mar 14 15:02:00 2026", 2 * time.Minute},
		{"Sat, 14 Mar 2026 14:00:00 GMT", 0},
		{"Sat, 21 Mar 2026 15:00:00 GMT", 24 * time.Hour},
	} {
		if got := parseRetryAfter(tc.v, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.v, got, tc.want)
		}
	}
}
