package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/server"
)

const devToken = "dev-mailbox-token-0123456789"

// devMailServer builds the API with the local mailbox (and the given token) but no
// dependencies: the /dev routes touch neither Postgres nor Temporal. It is serve's API;
// devLoopback makes it dev's, where loopback clients need no token.
func devMailServer(t *testing.T, mb *devmailbox.Mailbox, token string, devLoopback ...bool) http.Handler {
	t.Helper()
	off := testenv.OfflineDeps(t)
	db, wf, links := off.DB, off.Workflows, off.Links
	s, err := server.New(server.Deps{DB: db, Workflows: wf, Links: links, Mailbox: mb,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: server.Config{PipelineToken: "pipeline", AppBaseURL: "http://app.test", DevMailboxToken: token,
			DevLoopback: len(devLoopback) > 0 && devLoopback[0]}})
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

type devCall struct {
	method, path, remote, body string
	header                     map[string]string
}

func (c devCall) do(h http.Handler) *httptest.ResponseRecorder {
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.path, rd)
	req.RemoteAddr = c.remote
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const sendBody = `{"from":{"email":"a@x.test"},"to":[{"email":"ada@acme.test"}],"subject":"s","text":"link"}`

// The mailbox holds members' live links: off this host, without the token, the /dev
// routes do not exist, whatever headers claim.
func TestDevRoutesRefuseOtherHosts(t *testing.T) {
	mb := devmailbox.New(10)
	for _, token := range []string{"", devToken} {
		h := devMailServer(t, mb, token, true) // even dev's loopback rule refuses these
		for _, c := range []devCall{
			{method: "GET", path: "/dev/mailbox", remote: "203.0.113.7:4242"},
			{method: "GET", path: "/dev/mailbox", remote: "[2001:db8::1]:4242"},
			{method: "GET", path: "/dev/mailbox", remote: "10.0.0.3:4242", header: map[string]string{"Authorization": "Bearer wrong-token-0123456789"}},
			// A reverse proxy on this host connects from loopback; its forwarded requests
			// are outside clients.
			{method: "GET", path: "/dev/mailbox", remote: "127.0.0.1:4242", header: map[string]string{"X-Forwarded-For": "127.0.0.1"}},
			{method: "GET", path: "/dev/mailbox", remote: "127.0.0.1:4242", header: map[string]string{"Forwarded": "for=127.0.0.1"}},
			{method: "GET", path: "/dev/mailbox", remote: "127.0.0.1:4242", header: map[string]string{"X-Real-IP": "127.0.0.1"}},
			{method: "POST", path: "/dev/mailersend/v1/email", remote: "203.0.113.7:4242", body: sendBody, header: map[string]string{"Authorization": "Bearer anything"}},
			{method: "PUT", path: "/dev/mailersend/faults", remote: "203.0.113.7:4242", body: `{"status":503,"count":1}`},
			{method: "DELETE", path: "/dev/mailersend/faults", remote: "203.0.113.7:4242"},
		} {
			rec := c.do(h)
			if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") ||
				!strings.Contains(rec.Body.String(), `"route_not_found"`) {
				t.Errorf("token %q: %s %s from %s %v: %d %s, want a 404 route_not_found problem", token, c.method, c.path, c.remote, c.header, rec.Code, rec.Body)
			}
		}
	}
	if mb.Len() != 0 || mb.Fault().Count != 0 {
		t.Fatalf("refused requests changed the mailbox: %d messages, fault %+v", mb.Len(), mb.Fault())
	}
}

// Outside `retryd dev`, loopback proves nothing: a proxy on this host that adds no
// forwarding header (nginx's default proxy_pass, ssh -L, kubectl port-forward) connects
// from 127.0.0.1 for every outside client. Only the token opens the /dev routes.
func TestDevRoutesOutsideDevNeedTheToken(t *testing.T) {
	mb := devmailbox.New(10)
	h := devMailServer(t, mb, devToken)
	for _, c := range []devCall{
		{method: "GET", path: "/dev/mailbox", remote: "127.0.0.1:4242"},
		{method: "GET", path: "/dev/mailbox", remote: "[::1]:4242"},
		{method: "GET", path: "/dev/mailersend/faults", remote: "127.0.0.1:4242"},
		{method: "PUT", path: "/dev/mailersend/faults", remote: "127.0.0.1:4242", body: `{"status":503,"count":1}`},
		{method: "DELETE", path: "/dev/mailersend/faults", remote: "127.0.0.1:4242"},
		{method: "POST", path: "/dev/mailersend/v1/email", remote: "127.0.0.1:4242", body: sendBody, header: map[string]string{"Authorization": "Bearer local-dev"}},
	} {
		rec := c.do(h)
		if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") ||
			!strings.Contains(rec.Body.String(), `"route_not_found"`) {
			t.Errorf("%s %s from %s without the token: %d %s, want a 404 route_not_found problem", c.method, c.path, c.remote, rec.Code, rec.Body)
		}
	}
	if mb.Len() != 0 || mb.Fault().Count != 0 {
		t.Fatalf("refused requests changed the mailbox: %d messages, fault %+v", mb.Len(), mb.Fault())
	}
	rec := (devCall{method: "GET", path: "/dev/mailbox", remote: "127.0.0.1:4242", header: map[string]string{"Authorization": "Bearer " + devToken}}).do(h)
	if rec.Code != http.StatusOK {
		t.Fatalf("the mailbox with the token: %d %s, want 200", rec.Code, rec.Body)
	}
}

// Under `retryd dev`, this host's clients need no token; the token works too.
func TestDevRoutesAnswerThisHostAndTheToken(t *testing.T) {
	mb := devmailbox.New(10)
	h := devMailServer(t, mb, devToken, true)
	auth := map[string]string{"Authorization": "Bearer " + devToken}
	for _, c := range []devCall{
		{method: "POST", path: "/dev/mailersend/v1/email", remote: "127.0.0.1:5000", body: sendBody, header: map[string]string{"Authorization": "Bearer local-dev"}},
		{method: "POST", path: "/dev/mailersend/v1/email", remote: "[::1]:5000", body: sendBody, header: map[string]string{"Authorization": "Bearer local-dev"}},
		// The compose worker: another container, with the token as its MailerSend key.
		{method: "POST", path: "/dev/mailersend/v1/email", remote: "172.18.0.5:5000", body: sendBody, header: auth},
	} {
		if rec := c.do(h); rec.Code != http.StatusAccepted {
			t.Fatalf("%s from %s: %d %s, want 202", c.path, c.remote, rec.Code, rec.Body)
		}
	}
	for _, c := range []devCall{
		{method: "GET", path: "/dev/mailbox", remote: "127.0.0.1:5000"},
		{method: "GET", path: "/dev/mailbox", remote: "198.51.100.9:5000", header: auth},
	} {
		rec := c.do(h)
		var got struct{ Messages []devmailbox.Message }
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil || len(got.Messages) != 3 {
			t.Fatalf("mailbox from %s: %d %s, want the 3 messages", c.remote, rec.Code, rec.Body)
		}
	}
	// Without a configured token, a presented one opens nothing.
	h = devMailServer(t, mb, "", true)
	if rec := (devCall{method: "GET", path: "/dev/mailbox", remote: "198.51.100.9:5000", header: map[string]string{"Authorization": "Bearer "}}).do(h); rec.Code != http.StatusNotFound {
		t.Fatalf("empty bearer without a configured token: %d", rec.Code)
	}
}

func TestMailFaultEndpoint(t *testing.T) {
	mb := devmailbox.New(10)
	h := devMailServer(t, mb, "", true)
	local := "127.0.0.1:5000"
	fault := func(c devCall) (int, devmailbox.Fault, string) {
		c.remote = local
		rec := c.do(h)
		var f devmailbox.Fault
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &f); err != nil {
				t.Fatalf("%s: %v in %s", c.method, err, rec.Body)
			}
		}
		return rec.Code, f, rec.Body.String()
	}
	if code, f, _ := fault(devCall{method: "GET", path: "/dev/mailersend/faults"}); code != 200 || f != (devmailbox.Fault{}) {
		t.Fatalf("GET without faults: %d %+v", code, f)
	}
	code, f, body := fault(devCall{method: "PUT", path: "/dev/mailersend/faults", body: `{"status":429,"retry_after_s":3,"count":2}`})
	if code != 200 || f != (devmailbox.Fault{Status: 429, RetryAfterS: 3, Count: 2}) {
		t.Fatalf("PUT: %d %+v %s", code, f, body)
	}
	send := devCall{method: "POST", path: "/dev/mailersend/v1/email", remote: local, body: sendBody, header: map[string]string{"Authorization": "Bearer k"}}
	if rec := send.do(h); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "3" {
		t.Fatalf("faulted send: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if _, f, _ := fault(devCall{method: "GET", path: "/dev/mailersend/faults"}); f.Count != 1 {
		t.Fatalf("GET after one faulted send: %+v, want count 1", f)
	}
	if rec := (devCall{method: "DELETE", path: "/dev/mailersend/faults", remote: local}).do(h); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", rec.Code)
	}
	if rec := send.do(h); rec.Code != http.StatusAccepted || mb.Len() != 1 {
		t.Fatalf("send after DELETE: %d, %d kept; want 202 and 1", rec.Code, mb.Len())
	}

	for _, bad := range []string{`{"status":404,"count":1}`, `{"status":503}`, `{"count":1}`, `{"status":"503","count":1}`, `[1]`, `{"status":503,"count":1,"delay_ms":-1}`} {
		rec := (devCall{method: "PUT", path: "/dev/mailersend/faults", remote: local, body: bad}).do(h)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"invalid_body"`) ||
			!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
			t.Errorf("PUT %s: %d %s, want a 400 invalid_body problem", bad, rec.Code, rec.Body)
		}
	}
	if mb.Fault().Count != 0 {
		t.Fatalf("a refused PUT installed %+v", mb.Fault())
	}
}

// Without a mailbox (a real key, or serve without DEV_MAILBOX) there are no /dev routes
// at all, even for this host.
func TestNoDevRoutesWithoutMailbox(t *testing.T) {
	h := devMailServer(t, nil, devToken, true)
	for _, c := range []devCall{
		{method: "GET", path: "/dev/mailbox", remote: "127.0.0.1:1"},
		{method: "GET", path: "/dev/mailersend/faults", remote: "127.0.0.1:1", header: map[string]string{"Authorization": "Bearer " + devToken}},
		{method: "POST", path: "/dev/mailersend/v1/email", remote: "127.0.0.1:1", body: sendBody, header: map[string]string{"Authorization": "Bearer " + devToken}},
	} {
		if rec := c.do(h); rec.Code != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404", c.method, c.path, rec.Code)
		}
	}
}
