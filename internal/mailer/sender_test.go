package mailer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/metrics"
)

// testFrom is the sender every test configures.
func testFrom() Address { return Address{Email: "hello@headshotpro.test", Name: "HeadshotPro"} }

// localMailbox runs the local endpoint mounted the way the API server mounts
// it and records the X-Message-Id each answer carried.
func localMailbox(t *testing.T) (*devmailbox.Mailbox, *httptest.Server, func() []string) {
	t.Helper()
	mb := devmailbox.New(10)
	var mu sync.Mutex
	var ids []string
	inner := http.StripPrefix("/dev/mailersend", mb.Handler())
	mux := http.NewServeMux()
	mux.HandleFunc("/dev/mailersend/", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer local-dev" {
			t.Errorf("Authorization = %q, want the local bearer", got)
		}
		inner.ServeHTTP(w, r)
		mu.Lock()
		ids = append(ids, w.Header().Get("X-Message-Id"))
		mu.Unlock()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return mb, srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), ids...)
	}
}

func TestSendThroughLocalMailbox(t *testing.T) {
	mb, srv, headerIDs := localMailbox(t)
	// A trailing slash on the base URL must not produce "//v1/email".
	s, err := NewSender(Config{LocalURL: srv.URL + "/dev/mailersend/", From: testFrom()})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Local() {
		t.Fatal("Local() = false without an API key")
	}
	content, err := RetryEmail(LinkData{MemberName: "Ada", ActionURL: "https://app.test/m/retry?token=t1", ExpiresAt: time.Now().Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	id, err := s.Send(context.Background(), Message{
		To:      Address{Email: "ada@acme.test", Name: "Ada"},
		Content: content,
		Tags:    []string{"retry"},
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}

	msgs := mb.Messages()
	if len(msgs) != 1 {
		t.Fatalf("mailbox holds %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if hdr := headerIDs(); len(hdr) != 1 || hdr[0] != id || got.ID != id || len(id) != 24 {
		t.Fatalf("returned id %q, X-Message-Id %v, stored id %q: want one 24-char id everywhere", id, hdr, got.ID)
	}
	if got.Subject != "HeadshotPro | Please retry your shoot" {
		t.Fatalf("subject = %q", got.Subject)
	}
	if len(got.To) != 1 || got.To[0] != "ada@acme.test" {
		t.Fatalf("to = %v", got.To)
	}
	if got.Text != content.Text || got.HTML != content.HTML {
		t.Fatalf("bodies differ from what was sent:\ntext %q\nhtml %q", got.Text, got.HTML)
	}
}

// recordingTransport stands in for the network in real mode: it answers like
// MailerSend and remembers what it was sent.
type recordingTransport struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	closed atomic.Bool
}

type closeTracker struct {
	io.Reader
	closed *atomic.Bool
}

func (c closeTracker) Close() error { c.closed.Store(true); return nil }

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, req)
	rt.bodies = append(rt.bodies, body)
	rt.mu.Unlock()
	h := http.Header{}
	h.Set("X-Message-Id", "0123456789abcdef01234567")
	return &http.Response{
		StatusCode: http.StatusAccepted,
		Header:     h,
		Body:       closeTracker{strings.NewReader(""), &rt.closed},
		Request:    req,
	}, nil
}

func TestRealModeTalksToMailerSend(t *testing.T) {
	rt := &recordingTransport{}
	s, err := newSender(Config{APIKey: "mlsn.secret", LocalURL: "http://ignored.test", From: testFrom()}, rt)
	if err != nil {
		t.Fatal(err)
	}
	if s.Local() {
		t.Fatal("Local() = true with an API key")
	}
	id, err := s.Send(context.Background(), Message{
		To:      Address{Email: "ada@acme.test", Name: "Ada"},
		Content: Content{Subject: "S", Text: "T", HTML: "<p>H</p>"},
		Tags:    []string{"retry", "reminder"},
	})
	if err != nil || id != "0123456789abcdef01234567" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	if len(rt.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(rt.reqs))
	}
	req := rt.reqs[0]
	if req.Method != http.MethodPost || req.URL.String() != "https://api.mailersend.com/v1/email" {
		t.Fatalf("request %s %s", req.Method, req.URL)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer mlsn.secret" {
		t.Fatalf("Authorization = %q", got)
	}
	var sent struct {
		From    struct{ Email, Name string }
		To      []struct{ Email, Name string }
		Subject string
		Text    string
		HTML    string
		Tags    []string
	}
	if err := json.Unmarshal(rt.bodies[0], &sent); err != nil {
		t.Fatal(err)
	}
	if sent.From.Email != testFrom().Email || sent.From.Name != testFrom().Name ||
		len(sent.To) != 1 || sent.To[0].Email != "ada@acme.test" || sent.To[0].Name != "Ada" ||
		sent.Subject != "S" || sent.Text != "T" || sent.HTML != "<p>H</p>" ||
		strings.Join(sent.Tags, ",") != "retry,reminder" {
		t.Fatalf("sent body %s", rt.bodies[0])
	}
	if !rt.closed.Load() {
		t.Fatal("response body of a successful send was not closed")
	}
}

// stub answers every request with a fixed status, headers and JSON message.
func stub(t *testing.T, status int, header map[string]string, message string) (*Sender, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if message != "" {
			_ = json.NewEncoder(w).Encode(map[string]any{"message": message})
		}
	}))
	t.Cleanup(srv.Close)
	s, err := NewSender(Config{LocalURL: srv.URL, From: testFrom()})
	if err != nil {
		t.Fatal(err)
	}
	return s, &calls
}

func testMessage() Message {
	return Message{
		To:      Address{Email: "ada@acme.test", Name: "Ada"},
		Content: Content{Subject: "HeadshotPro | Please retry your shoot", Text: "secret body text", HTML: "<p>secret body html</p>"},
	}
}

func TestClassification(t *testing.T) {
	cases := []struct {
		status     int
		header     map[string]string
		message    string
		permanent  bool
		retryAfter time.Duration
	}{
		{429, map[string]string{"Retry-After": "30"}, "Too Many Attempts.", false, 30 * time.Second},
		// A rate limit that names no delay waits out MailerSend's per-minute window.
		{429, nil, "Too Many Attempts.", false, rateLimitRetryDelay},
		{500, nil, "Server Error", false, 0},
		{503, map[string]string{"Retry-After": "5"}, "Service Unavailable", false, 5 * time.Second},
		{408, nil, "Request Timeout", false, 0},
		{421, nil, "Misdirected", false, 0},
		{422, nil, "The from.email domain must be verified in your account to send emails. #MS42207", true, 0},
		{400, nil, "Bad request.", true, 0},
		// A broken key or account: retried slowly (and alerted, see
		// TestAuthFailuresAreTransientAndAlert), never dropped.
		{401, nil, "Unauthenticated.", false, authRetryDelay},
		{403, nil, "This action is unauthorized.", false, authRetryDelay},
		{403, map[string]string{"Retry-After": "3600"}, "This action is unauthorized.", false, time.Hour},
		{404, nil, "Not found.", true, 0},
		{413, nil, "Too Large.", true, 0},
		// A Retry-After on a permanent failure must not invite a retry.
		{422, map[string]string{"Retry-After": "60"}, "The subject field is required.", true, 0},
	}
	for _, tc := range cases {
		s, calls := stub(t, tc.status, tc.header, tc.message)
		_, err := s.Send(context.Background(), testMessage())
		var se *SendError
		if !errors.As(err, &se) {
			t.Fatalf("%d: err = %#v, want *SendError", tc.status, err)
		}
		if se.StatusCode != tc.status || se.Permanent != tc.permanent || se.RetryAfter != tc.retryAfter || se.Message != tc.message {
			t.Fatalf("%d: got %+v, want permanent=%v retryAfter=%v message=%q", tc.status, se, tc.permanent, tc.retryAfter, tc.message)
		}
		if IsPermanent(err) != tc.permanent {
			t.Fatalf("%d: IsPermanent = %v", tc.status, !tc.permanent)
		}
		if calls.Load() != 1 {
			t.Fatalf("%d: %d calls, want exactly 1 (no hidden retries)", tc.status, calls.Load())
		}
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	at := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	s, _ := stub(t, 429, map[string]string{"Retry-After": at}, "Too Many Attempts.")
	_, err := s.Send(context.Background(), testMessage())
	var se *SendError
	if !errors.As(err, &se) || se.RetryAfter < 80*time.Second || se.RetryAfter > 91*time.Second {
		t.Fatalf("err = %v, want RetryAfter about 90s", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		" 120 ":                         2 * time.Minute,
		"99999999999999":                maxRetryAfter,
		"Fri, 27 Nov 2026 12:01:00 GMT": time.Minute,
		"Fri, 27 Nov 2026 11:00:00 GMT": 0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// allSuppressed is the body MailerSend answers when it accepted the request but
// sent nothing, because every recipient is on a suppression list: no X-Message-Id.
const allSuppressed = `{"warnings":[{"type":"ALL_SUPPRESSED","warning":"None of the recipients were sent this email because they are all suppressed.","recipients":[{"email":"ada@acme.test","name":"Ada","reasons":["hard_bounced"]}]}]}`

// stubBody answers every request with a fixed status, headers and raw body.
func stubBody(t *testing.T, status int, header map[string]string, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestAcceptedWithoutMessageIDIsDelivered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"202 all suppressed", http.StatusAccepted, allSuppressed},
		{"202 empty body", http.StatusAccepted, ""},
		{"200 empty body", http.StatusOK, ""},
		{"200 not json", http.StatusOK, "<html>ok</html>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := stubBody(t, tc.status, nil, tc.body)
			logs, logger := captureLogs()
			s, err := NewSender(Config{LocalURL: srv.URL, From: testFrom(), Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			id, err := s.Send(context.Background(), testMessage())
			if err != nil || id != NoMessageID {
				t.Fatalf("Send = %q, %v; want delivered without an id (an error makes the activity send again)", id, err)
			}
			if calls.Load() != 1 {
				t.Fatalf("%d calls, want 1", calls.Load())
			}
			out := logs.String()
			if !strings.Contains(out, `"level":"WARN","msg":"email accepted without a message id"`) ||
				!strings.Contains(out, fmt.Sprintf(`"status":%d`, tc.status)) {
				t.Fatalf("no warning line for the missing id:\n%s", out)
			}
			if strings.Contains(out, "@") {
				t.Fatalf("log carries an address:\n%s", out)
			}
			if tc.body == allSuppressed && !strings.Contains(out, `"types":["ALL_SUPPRESSED"]`) ||
				tc.body == allSuppressed && !strings.Contains(out, `"recipients":1,"reasons":["hard_bounced"]`) {
				t.Fatalf("warnings not logged:\n%s", out)
			}
		})
	}
}

// captureLogs is a JSON logger whose output the test can read.
func captureLogs() (*syncBuffer, *slog.Logger) {
	b := &syncBuffer{}
	return b, slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{
		// Drop the timestamp so lines compare by content.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWarningsWithMessageIDAreLogged(t *testing.T) {
	body := `{"warnings":[{"type":"SOME_SUPPRESSED","warning":"Some of the recipients (ada@acme.test) were suppressed.","recipients":[{"email":"ada@acme.test","reasons":["unsubscribed"]}]}]}`
	srv, _ := stubBody(t, http.StatusAccepted, map[string]string{"X-Message-Id": "0123456789abcdef01234567"}, body)
	logs, logger := captureLogs()
	s, err := NewSender(Config{LocalURL: srv.URL, From: testFrom(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Send(context.Background(), testMessage())
	if err != nil || id != "0123456789abcdef01234567" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"email accepted with warnings"`) || !strings.Contains(out, `"types":["SOME_SUPPRESSED"]`) ||
		!strings.Contains(out, `"reasons":["unsubscribed"]`) || !strings.Contains(out, "[address]") {
		t.Fatalf("warning not logged as expected:\n%s", out)
	}
	if strings.Contains(out, "@") {
		t.Fatalf("log carries an address:\n%s", out)
	}

	// A plain delivery logs nothing.
	srv, _ = stubBody(t, http.StatusAccepted, map[string]string{"X-Message-Id": "0123456789abcdef01234567"}, "")
	logs, logger = captureLogs()
	s, _ = NewSender(Config{LocalURL: srv.URL, From: testFrom(), Logger: logger})
	if _, err := s.Send(context.Background(), testMessage()); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); out != "" {
		t.Fatalf("plain delivery logged:\n%s", out)
	}
}

func TestAuthFailuresAreTransientAndAlert(t *testing.T) {
	for _, tc := range []struct {
		status  int
		message string
	}{
		{http.StatusUnauthorized, "Unauthenticated."},
		{http.StatusForbidden, "This action is unauthorized."},
	} {
		srv, calls := stubBody(t, tc.status, nil, `{"message":"`+tc.message+`"}`)
		logs, logger := captureLogs()
		m := metrics.New()
		s, err := newSender(Config{APIKey: "mlsn.secret", From: testFrom(), Logger: logger, Alerts: m}, &rewriteOnly{target: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Send(context.Background(), testMessage())
		var se *SendError
		if !errors.As(err, &se) || se.StatusCode != tc.status || se.Message != tc.message {
			t.Fatalf("%d: err = %#v, want a SendError with the status and message", tc.status, err)
		}
		if IsPermanent(err) || se.RetryAfter != authRetryDelay {
			t.Fatalf("%d: permanent=%v retryAfter=%v; want transient with the auth retry delay %v",
				tc.status, IsPermanent(err), se.RetryAfter, authRetryDelay)
		}
		if strings.Contains(err.Error(), "mlsn.secret") {
			t.Fatalf("%d: error text %q carries the key", tc.status, err)
		}
		if calls.Load() != 1 {
			t.Fatalf("%d: %d calls, want exactly 1 (no hidden retries)", tc.status, calls.Load())
		}
		out := logs.String()
		if !strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, fmt.Sprintf(`"status":%d`, tc.status)) {
			t.Fatalf("%d: no error-level line naming the status:\n%s", tc.status, out)
		}
		if strings.Contains(out, "mlsn.secret") || strings.Contains(out, "@") {
			t.Fatalf("%d: log carries the key or an address:\n%s", tc.status, out)
		}
		if got := scrapeLine(t, m, "retryd_email_provider_auth_failures_total"); got != fmt.Sprintf(`retryd_email_provider_auth_failures_total{status="%d"} 1`, tc.status) {
			t.Fatalf("%d: counter line %q", tc.status, got)
		}
	}

	// Other failures neither alert nor count.
	srv, _ := stubBody(t, http.StatusUnprocessableEntity, nil, `{"message":"The subject field is required."}`)
	logs, logger := captureLogs()
	m := metrics.New()
	s, err := newSender(Config{APIKey: "mlsn.secret", From: testFrom(), Logger: logger, Alerts: m}, &rewriteOnly{target: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), testMessage()); !IsPermanent(err) {
		t.Fatalf("422: err = %v, want permanent", err)
	}
	if out := logs.String(); out != "" {
		t.Fatalf("422 logged an alert:\n%s", out)
	}
	if got := scrapeLine(t, m, "retryd_email_provider_auth_failures_total"); got != "" {
		t.Fatalf("422 counted as auth failure: %q", got)
	}
}

// scrapeLine is the one sample line of a metric in m's /metrics output, or ""
// when the metric has no sample yet.
func scrapeLine(t *testing.T, m *metrics.Metrics, name string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var found []string
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			found = append(found, strings.TrimSpace(line))
		}
	}
	if len(found) > 1 {
		t.Fatalf("%s has %d samples: %v", name, len(found), found)
	}
	return strings.Join(found, "")
}

func TestAuthFailureWithoutLoggerOrAlerts(t *testing.T) {
	// Tools and tests build senders without either; the alert path must cope.
	srv, _ := stubBody(t, http.StatusUnauthorized, nil, `{"message":"Unauthenticated."}`)
	s, err := NewSender(Config{LocalURL: srv.URL, From: testFrom()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), testMessage()); err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
	var nilMetrics *metrics.Metrics
	s, _ = NewSender(Config{LocalURL: srv.URL, From: testFrom(), Alerts: nilMetrics})
	if _, err := s.Send(context.Background(), testMessage()); err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want transient", err)
	}
}

func TestNetworkErrorIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	s, err := NewSender(Config{LocalURL: url, From: testFrom()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), testMessage())
	var se *SendError
	if !errors.As(err, &se) || se.Permanent || se.StatusCode != 0 || !strings.HasPrefix(se.Message, "network error") {
		t.Fatalf("err = %#v, want transient network SendError", err)
	}
}

// hang answers only when the test ends, to exercise deadlines.
func hang(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.URL
}

func TestContextDeadlineBoundsTheCall(t *testing.T) {
	s, err := NewSender(Config{LocalURL: hang(t), From: testFrom(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Send(ctx, testMessage())
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Send took %v despite a 100ms deadline", elapsed)
	}
	if IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a transient error wrapping context.DeadlineExceeded", err)
	}
}

func TestClientTimeoutBoundsTheCall(t *testing.T) {
	s, err := NewSender(Config{LocalURL: hang(t), From: testFrom(), Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Send(context.Background(), testMessage())
	var se *SendError
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Send took %v despite a 100ms timeout", elapsed)
	}
	if !errors.As(err, &se) || se.Permanent || se.StatusCode != 0 {
		t.Fatalf("err = %v, want transient SendError", err)
	}
}

func TestErrorTextHasNoAddressKeyOrBody(t *testing.T) {
	// A provider message that echoes an address and the key must come out clean.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"message": "The to.0.email (ada@acme.test) is invalid for key mlsn.secret; from <hello@headshotpro.test>.",
			"errors":  map[string][]string{"to.0.email": {"ada@acme.test"}},
		})
	}))
	t.Cleanup(srv.Close)
	rt := &rewriteOnly{target: srv.URL}
	s, err := newSender(Config{APIKey: "mlsn.secret", From: testFrom()}, rt)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), testMessage())
	if err == nil {
		t.Fatal("want an error")
	}
	text := err.Error()
	for _, leak := range []string{"@", "ada@acme.test", "hello@headshotpro.test", "mlsn.secret", "secret body"} {
		if strings.Contains(text, leak) {
			t.Fatalf("error text %q leaks %q", text, leak)
		}
	}
	if !strings.Contains(text, "422") || !strings.Contains(text, "[address]") {
		t.Fatalf("error text %q lost the status or the message", text)
	}

	// Network errors and pre-send refusals, too.
	for _, e := range []error{
		&SendError{Message: "network error: " + s.scrub("dial ada@acme.test: refused")},
		checkMessage(Message{Content: Content{Subject: "s", Text: "t"}}),
	} {
		if strings.Contains(e.Error(), "@") {
			t.Fatalf("error text %q contains an address", e.Error())
		}
	}
}

// rewriteOnly sends real-mode requests to a test server, to exercise the
// real-mode code path (API key and all) without a network.
type rewriteOnly struct{ target string }

func (r *rewriteOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	u, _ := out.URL.Parse(r.target + req.URL.Path)
	out.URL, out.Host = u, ""
	return http.DefaultTransport.RoundTrip(out)
}

func TestRedactAddresses(t *testing.T) {
	cases := map[string]string{
		"no address here":                 "no address here",
		"to ada@acme.test failed":         "to [address] failed",
		"<a@b.c>, (d@e.f); x@y":           "<[address]>, ([address]); [address]",
		"name\u00a0ada@acme.test end":     "name\u00a0[address] end",
		"trailing@":                       "[address]",
		"ünïcödé@exämple.test and more":   "[address] and more",
		`"quoted"@x.test`:                 `"quoted"[address]`,
		"two@a.test,three@b.test":         "[address],[address]",
		"line1\nada@acme.test\nline3":     "line1\n[address]\nline3",
		"status 422: The to.0.email is x": "status 422: The to.0.email is x",
	}
	for in, want := range cases {
		if got := redactAddresses(in); got != want {
			t.Errorf("redactAddresses(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSendRefusesIncompleteMessages(t *testing.T) {
	s, calls := stub(t, http.StatusAccepted, map[string]string{"X-Message-Id": "x"}, "")
	for name, m := range map[string]Message{
		"no recipient": {Content: Content{Subject: "s", Text: "t"}},
		"no subject":   {To: Address{Email: "a@x.test"}, Content: Content{Text: "t"}},
		"no body":      {To: Address{Email: "a@x.test"}, Content: Content{Subject: "s"}},
	} {
		_, err := s.Send(context.Background(), m)
		if !IsPermanent(err) {
			t.Fatalf("%s: err = %v, want permanent", name, err)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("%d requests sent for invalid messages", calls.Load())
	}
}

func TestNewSenderConfig(t *testing.T) {
	bad := map[string]Config{
		"no from":          {LocalURL: "http://127.0.0.1:1"},
		"no key, no url":   {From: testFrom()},
		"relative url":     {LocalURL: "/dev/mailersend", From: testFrom()},
		"non-http url":     {LocalURL: "ftp://127.0.0.1/dev", From: testFrom()},
		"unparseable url":  {LocalURL: "http://[::1", From: testFrom()},
		"blank from email": {APIKey: "k", From: Address{Email: " ", Name: "X"}},
	}
	for name, cfg := range bad {
		if s, err := NewSender(cfg); err == nil || s != nil {
			t.Fatalf("%s: NewSender = %v, %v; want an error", name, s, err)
		}
	}
	s, err := NewSender(Config{APIKey: "k", From: testFrom()})
	if err != nil || s.Local() {
		t.Fatalf("key only: %v, local=%v", err, s != nil && s.Local())
	}
	if got := s.client.Client().Timeout; got != DefaultTimeout {
		t.Fatalf("timeout = %v, want default %v", got, DefaultTimeout)
	}
}

func TestLocalTransportRefusesOtherHosts(t *testing.T) {
	var called atomic.Bool
	base := roundTripFunc(func(*http.Request) (*http.Response, error) {
		called.Store(true)
		return nil, errors.New("unreachable")
	})
	s, err := newSender(Config{LocalURL: "http://127.0.0.1:1/dev/mailersend", From: testFrom()}, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"https://example.com/v1/email", "https://api.mailersend.com/v2/email", "https://api.mailersend.com/email"} {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
		if _, err := s.client.Client().Transport.RoundTrip(req); err == nil {
			t.Fatalf("%s: local transport forwarded it", u)
		}
	}
	if called.Load() {
		t.Fatal("refused request reached the base transport")
	}

	// And the accepted one lands under the local prefix with its query.
	var got string
	s, _ = newSender(Config{LocalURL: "http://127.0.0.1:1/dev/mailersend", From: testFrom()}, roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return nil, errors.New("stop")
	}))
	req, _ := http.NewRequest(http.MethodGet, "https://api.mailersend.com/v1/messages?page=2", nil)
	_, _ = s.client.Client().Transport.RoundTrip(req)
	if got != "http://127.0.0.1:1/dev/mailersend/v1/messages?page=2" {
		t.Fatalf("rewritten to %q", got)
	}
	if req.URL.Host != "api.mailersend.com" {
		t.Fatal("RoundTrip modified the caller's request")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRateLimitIsLoggedWithTheAccountsLimit: a 429 names the account's limit in the log, so
// an operator can set MAIL_RATE_PER_MINUTE below it.
func TestRateLimitIsLoggedWithTheAccountsLimit(t *testing.T) {
	srv, _ := stubBody(t, http.StatusTooManyRequests, map[string]string{
		"Retry-After": "17", "X-Ratelimit-Limit": "120", "X-Ratelimit-Remaining": "0",
	}, `{"message":"Your account reached its rate limit of 120 requests/min. Please wait before trying again. #MS42903"}`)
	logs, logger := captureLogs()
	s, err := NewSender(Config{LocalURL: srv.URL, From: testFrom(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), testMessage())
	var se *SendError
	if !errors.As(err, &se) || se.StatusCode != http.StatusTooManyRequests || se.RetryAfter != 17*time.Second || IsPermanent(err) {
		t.Fatalf("err = %v, want a transient 429 retried after 17s", err)
	}
	out := logs.String()
	if !strings.Contains(out, "MAIL_RATE_PER_MINUTE") || !strings.Contains(out, `"ratelimit_limit":"120"`) || !strings.Contains(out, `"retry_after":"17s"`) {
		t.Fatalf("rate limit not logged as expected:\n%s", out)
	}
}
