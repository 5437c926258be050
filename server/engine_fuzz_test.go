package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// logRecorder keeps the messages the server logs, so the fuzz target can tell a 5xx
// that followed a failed storage or workflow call from one that did not (a panic, or
// bad input reaching a place it should have been refused before).
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

// offlineEngine is the real API with nothing behind it: Postgres and Temporal are
// unreachable addresses, so anything that gets past validation fails at the first
// storage call, fast, and is logged as such.
func offlineEngine(t testing.TB, logs *logRecorder) (*Server, *linktoken.Signer) {
	t.Helper()
	off := testenv.OfflineDeps(t)
	db, wf, links := off.DB, off.Workflows, off.Links
	s, err := New(Deps{DB: db, Workflows: wf, Links: links, Mailbox: devmailbox.New(0), Logger: slog.New(logs),
		Config: Config{PipelineToken: "pipeline-token-for-fuzzing", AppBaseURL: "http://app.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return s, links
}

// failedDependency are the log messages of a storage or workflow call that failed; a
// 5xx answer must follow one of them.
var failedDependency = []string{"request failed", "temporal unavailable", "request timed out"}

// FuzzEngine sends arbitrary requests to every route the router registers (the list is
// read from the router, so new routes are fuzzed too) through the real Gin engine:
// any path parameter, query, credential, content type and body. Whatever arrives, the
// handler must not panic, every answer carries a request id, every refusal is a
// problem whose status member matches the HTTP status, and a 5xx may only follow a
// failed storage or workflow call, never come from the input itself.
func FuzzEngine(f *testing.F) {
	logs := &logRecorder{}
	s, links := offlineEngine(f, logs)
	var routes []gin.RouteInfo
	for _, r := range s.Routes() {
		// The readiness probe takes no input and waits on the unreachable dependencies.
		if r.Path != "/readyz" {
			routes = append(routes, r)
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Method+routes[i].Path < routes[j].Method+routes[j].Path })

	for i := range routes {
		for auth := range byte(5) {
			f.Add(byte(i), seedUUID, "", auth, "application/json", []byte(`{"shoot_id":"`+seedUUID+`","member_ids":["`+seedUUID+`"],"email":"a@b.test","result_count":1}`))
		}
		f.Add(byte(i), "urn:uuid:"+seedUUID, "section=finished&cursor=eyJuIjoiQSIsImkiOiJ1cm46dXVpZDowYjdjNWQ0ZS0xZjJhLTRiM2MtOGQ5ZS1hYmNkZWYwMTIzNDUifQ", byte(1), "text/plain", []byte("{"))
		f.Add(byte(i), "%00", "limit=-1&q=%00", byte(3), "", []byte(`{"results":{"a":1}}`))
	}
	f.Fuzz(func(t *testing.T, route byte, param, query string, auth byte, contentType string, body []byte) {
		r := routes[int(route)%len(routes)]
		segs := strings.Split(r.Path, "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") {
				segs[i] = url.PathEscape(param)
			}
		}
		target := strings.Join(segs, "/")
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest(r.Method, target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		req.Header.Set("Content-Type", contentType)
		switch auth % 5 {
		case 1:
			req.Header.Set("Authorization", "Bearer pipeline-token-for-fuzzing")
		case 2:
			// A genuine link for the shoot in the path, so member routes get past the token.
			tok, _ := links.Issue(seedUUID, param, time.Now())
			req.Header.Set("Authorization", "Bearer "+tok)
		case 3:
			req.Header.Set("Authorization", "Bearer "+param)
		case 4:
			req.Header.Set("Authorization", param)
		}
		logs.take()
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		msgs := logs.take()

		for _, m := range msgs {
			if m == "panic in handler" {
				t.Fatalf("%s %s panicked; answer %d %s", r.Method, target, w.Code, w.Body)
			}
		}
		if w.Header().Get("X-Request-Id") == "" {
			t.Fatalf("%s %s: %d without X-Request-Id", r.Method, target, w.Code)
		}
		if w.Code >= 500 {
			reached := false
			for _, m := range msgs {
				for _, d := range failedDependency {
					reached = reached || m == d
				}
			}
			if !reached {
				t.Fatalf("%s %s: %d without a failed dependency call (logs %q): %s", r.Method, target, w.Code, msgs, w.Body)
			}
		}
		// The admin pages answer people: their refusals are HTML pages (with the code in
		// data-problem-code), everything else answers problem+json.
		if w.Code >= 400 && strings.HasPrefix(r.Path, "/app/") && strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			if !strings.Contains(w.Body.String(), "data-problem-code") && !strings.Contains(w.Body.String(), `name="api_key"`) {
				t.Fatalf("%s %s: %d page without a problem code or the sign-in form: %s", r.Method, target, w.Code, w.Body)
			}
		} else if w.Code >= 400 && !strings.HasPrefix(r.Path, "/dev/mailersend/") {
			var p struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, problemContentType) {
				t.Fatalf("%s %s: %d with Content-Type %q: %s", r.Method, target, w.Code, ct, w.Body)
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Code == "" {
				t.Fatalf("%s %s: %d with problem %s (%v)", r.Method, target, w.Code, w.Body, err)
			}
		}
	})
}
