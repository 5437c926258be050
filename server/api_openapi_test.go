package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/server"
)

// The OpenAPI document is kept true three ways: it must be a valid OpenAPI 3.1 document
// (below), it must name exactly the registered routes (below), and every answer of the
// integration tests is validated against it (internal/tooling/apptest).

// Routes the document names that a server may not register: the dev routes exist only
// in local-mail mode. (Metrics are never on the API's port: the private listener serves
// them, and this document describes the API.)
var devRoutes = []string{"GET /dev/mailbox", "POST /dev/mailersend/v1/email", "GET /dev/mailersend/faults", "PUT /dev/mailersend/faults", "DELETE /dev/mailersend/faults"}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(server.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
}

// offlineServer builds the API without connecting to anything: the database handle and
// the Temporal client are lazy, which is enough to list the routes and serve static ones.
func offlineServer(t *testing.T, withMailbox bool) *server.Server {
	t.Helper()
	off := testenv.OfflineDeps(t)
	db, wf, links := off.DB, off.Workflows, off.Links
	d := server.Deps{DB: db, Workflows: wf, Links: links, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: server.Config{PipelineToken: "pipeline", AppBaseURL: "http://app.test"}}
	if withMailbox {
		d.Mailbox = devmailbox.New(0)
	}
	s, err := server.New(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// adminPage tells the admin pages' routes (HTML for browsers, signed in with a session
// cookie; docs/admin-pages.md) from the API's, which the document describes.
func adminPage(path string) bool {
	return path == "/app/admin" || strings.HasPrefix(path, "/app/admin/") || path == "/app/login" || path == "/app/logout"
}

// registered lists a server's API routes as "METHOD /path/{param}".
func registered(s *server.Server) []string {
	var out []string
	for _, r := range s.Routes() {
		if adminPage(r.Path) {
			continue
		}
		segs := strings.Split(r.Path, "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*") {
				segs[i] = "{" + seg[1:] + "}"
			}
		}
		out = append(out, r.Method+" "+strings.Join(segs, "/"))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// documented lists the document's operations as "METHOD /path/{param}".
func documented(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIRoutesMatchServer(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := documented(doc)
	for _, tc := range []struct {
		name        string
		withMailbox bool
	}{{"local mail", true}, {"real MailerSend", false}} {
		t.Run(tc.name, func(t *testing.T) {
			routes := registered(offlineServer(t, tc.withMailbox))
			var mayLack []string
			if !tc.withMailbox {
				mayLack = devRoutes
			}
			for _, r := range routes {
				if !slices.Contains(ops, r) {
					t.Errorf("route %s is registered but not in openapi.json", r)
				}
			}
			for _, op := range ops {
				if !slices.Contains(routes, op) && !slices.Contains(mayLack, op) {
					t.Errorf("openapi.json names %s, which is not a registered route", op)
				}
			}
			if tc.withMailbox {
				for _, r := range devRoutes {
					if !slices.Contains(routes, r) {
						t.Errorf("dev route %s is not registered in local-mail mode", r)
					}
				}
			} else {
				for _, r := range devRoutes {
					if slices.Contains(routes, r) {
						t.Errorf("dev route %s is registered although a real MailerSend is configured", r)
					}
				}
			}
		})
	}
}

// TestOpenAPIProblemCodes keeps the problem schemas in step with package problem: the
// ProblemCode enum is every code, and each status's schema lists exactly that status's
// codes (the router's own 404 and 405 live in RouterProblem).
func TestOpenAPIProblemCodes(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := doc.Components.Schemas
	enum := func(s *openapi3.Schema) []string {
		var out []string
		for _, v := range s.Enum {
			out = append(out, v.(string))
		}
		sort.Strings(out)
		return out
	}
	var all []string
	byStatus := map[int][]string{}
	for _, c := range problem.Codes() {
		all = append(all, string(c))
		byStatus[c.Status()] = append(byStatus[c.Status()], string(c))
	}
	sort.Strings(all)
	if got := enum(schemas["ProblemCode"].Value); !slices.Equal(got, all) {
		t.Errorf("ProblemCode enum = %v, want every code of package problem %v", got, all)
	}
	router := []string{string(problem.RouteNotFound), string(problem.MethodNotAllowed)}
	member401 := []string{string(problem.InvalidToken), string(problem.TokenExpired)}
	for status, codes := range byStatus {
		want := slices.DeleteFunc(slices.Clone(codes), func(c string) bool {
			return slices.Contains(router, c) || (status == 401 && slices.Contains(member401, c))
		})
		sort.Strings(want)
		if len(want) == 0 {
			continue
		}
		ref := schemas["Problem"+strconv.Itoa(status)]
		if ref == nil {
			t.Errorf("no schema Problem%d for codes %v", status, want)
			continue
		}
		got := problemPart(t, ref.Value, status)
		if !slices.Equal(got, want) {
			t.Errorf("Problem%d codes = %v, want %v", status, got, want)
		}
	}
	if got := problemPart(t, schemas["MemberProblem401"].Value, 401); !slices.Equal(got, member401) {
		t.Errorf("MemberProblem401 codes = %v, want %v", got, member401)
	}
	for _, c := range router {
		part := schemas["RouterProblem"].Value.AllOf[1].Value.Properties["code"].Value
		if !slices.Contains(enum(part), c) {
			t.Errorf("RouterProblem does not list %s", c)
		}
	}
}

// problemPart checks a per-status problem schema (allOf Problem and the status's
// restriction) and returns its codes, sorted.
func problemPart(t *testing.T, s *openapi3.Schema, status int) []string {
	t.Helper()
	if len(s.AllOf) != 2 || s.AllOf[0].Ref != "#/components/schemas/Problem" {
		t.Fatalf("Problem%d must be allOf [Problem, restriction]", status)
	}
	part := s.AllOf[1].Value
	st := part.Properties["status"].Value.Enum
	if len(st) != 1 || st[0] != float64(status) {
		t.Errorf("Problem%d status enum = %v", status, st)
	}
	var codes []string
	for _, v := range part.Properties["code"].Value.Enum {
		codes = append(codes, v.(string))
	}
	sort.Strings(codes)
	return codes
}

// TestOpenAPIResponsesCarryRequestID checks the document promises X-Request-Id on every
// answer and problem+json for every error status of the service's own routes.
func TestOpenAPIResponsesCarryRequestID(t *testing.T) {
	doc := loadOpenAPI(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, ref := range op.Responses.Map() {
				where := method + " " + path + " " + status
				h := ref.Value.Headers["X-Request-Id"]
				if h == nil || !h.Value.Required {
					t.Errorf("%s: X-Request-Id is not a required header", where)
				}
				code, err := strconv.Atoi(status)
				if err != nil {
					t.Errorf("%s: responses must name statuses", where)
					continue
				}
				// MailerSend's stand-in answers as MailerSend does, and an unready service
				// answers its readiness checks.
				exempt := strings.HasPrefix(path, "/dev/mailersend/") || where == "GET /readyz 503"
				if code >= 400 && !exempt && ref.Value.Content.Get("application/problem+json") == nil {
					t.Errorf("%s: error answer without application/problem+json", where)
				}
			}
			if op.Responses.Value("500") == nil {
				t.Errorf("%s %s: no 500 answer", method, path)
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := offlineServer(t, false)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if rec.Body.String() != string(server.OpenAPIDocument()) {
		t.Error("GET /openapi.json does not serve OpenAPIDocument()")
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
}

// TestOpenAPIValidatesUnusualAnswers sends, through apptest (which checks every answer
// against the document), the requests no other test makes: health, readiness, the
// document itself, the dev mailbox, and the router's own 404 and 405.
func TestOpenAPIValidatesUnusualAnswers(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	expectStatus(t, app.Do(t, http.MethodGet, "/healthz", "", nil), http.StatusOK)
	expectStatus(t, app.Do(t, http.MethodGet, "/readyz", "", nil), http.StatusOK)
	doc := app.Do(t, http.MethodGet, "/openapi.json", "", nil)
	expectStatus(t, doc, http.StatusOK)
	if string(doc.Body) != string(server.OpenAPIDocument()) {
		t.Error("GET /openapi.json does not serve OpenAPIDocument()")
	}
	expectStatus(t, app.Do(t, http.MethodGet, "/dev/mailbox", "", nil), http.StatusOK)
	expectProblem(t, app.Do(t, http.MethodGet, "/api/v1/no-such-route", "", nil), http.StatusNotFound, "route_not_found")
	expectProblem(t, app.Do(t, http.MethodGet, "/api/v1/member/link", "", nil), http.StatusMethodNotAllowed, "method_not_allowed")
}

// TestOpenAPIWebhooks keeps the document's webhook parts in step with the code: the
// subscribable event types are domain.EventTypes(), the `webhooks` section describes
// each of them and webhook.test, each with the signature headers and an event whose type
// is its own, and AuditAction lists every action of package store.
func TestOpenAPIWebhooks(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := doc.Components.Schemas
	strs := func(vs []any) []string {
		out := []string{}
		for _, v := range vs {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if got := strs(schemas["WebhookEventType"].Value.Enum); !slices.Equal(got, domain.EventTypes()) {
		t.Errorf("WebhookEventType enum = %v, want domain.EventTypes() %v", got, domain.EventTypes())
	}
	want := append(domain.EventTypes(), domain.EventWebhookTest)
	var got []string
	for name := range doc.Webhooks {
		got = append(got, name)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("webhooks = %v, want %v", got, want)
	}
	for name, item := range doc.Webhooks {
		op := item.Post
		if op == nil {
			t.Errorf("webhook %s: no post", name)
			continue
		}
		var headers []string
		for _, p := range op.Parameters {
			if p.Value.In == "header" && p.Value.Required {
				headers = append(headers, p.Value.Name)
			}
		}
		sort.Strings(headers)
		if !slices.Equal(headers, []string{"webhook-id", "webhook-signature", "webhook-timestamp"}) {
			t.Errorf("webhook %s: required headers %v", name, headers)
		}
		event := op.RequestBody.Value.Content.Get("application/json").Schema.Value
		if typ := strs(event.Properties["type"].Value.Enum); !slices.Equal(typ, []string{name}) {
			t.Errorf("webhook %s: the event's type is %v", name, typ)
		}
		for _, f := range []string{"id", "type", "occurred_at", "organization_id", "data"} {
			if !slices.Contains(event.Required, f) {
				t.Errorf("webhook %s: the event does not require %s", name, f)
			}
		}
	}
	actions := strs(schemas["AuditAction"].Value.Enum)
	sort.Strings(actions)
	all := store.AuditActions()
	sort.Strings(all)
	if !slices.Equal(actions, all) {
		t.Errorf("AuditAction enum = %v, want store.AuditActions() %v", actions, all)
	}
}
