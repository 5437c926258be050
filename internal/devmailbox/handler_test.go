package devmailbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// newServer mounts the handler the way the API server does, so the tests cover
// the prefix stripping too.
func newServer(t *testing.T, m *Mailbox) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/dev/mailersend/", http.StripPrefix("/dev/mailersend", m.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func post(t *testing.T, url, auth, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

type errorBody struct {
	Message string              `json:"message"`
	Errors  map[string][]string `json:"errors"`
}

func decodeError(t *testing.T, a answer) errorBody {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var e errorBody
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	if e.Message == "" {
		t.Fatalf("error body without message: %s", a.body)
	}
	return e
}

// validBody is what mailersend-go v1.6.1 encodes for a plain message,
// including the empty fields it always sends.
const validBody = `{"to":[{"name":"Ada","email":"ada@acme.test"}],"from":{"name":"HeadshotPro","email":"hello@headshotpro.test"},` +
	`"reply_to":{"name":"","email":""},"subject":"Hello","text":"Hi Ada","html":"<p>Hi Ada</p>","tags":["retry"],` +
	`"variables":null,"personalization":null,"headers":null,"list_unsubscribe":"","settings":{"track_clicks":false,"track_opens":false,"track_content":false}}`

func TestAcceptsAndStores(t *testing.T) {
	m := New(10)
	srv := newServer(t, m)
	before := time.Now().UTC().Add(-time.Second)

	a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer local-dev", "application/json", validBody)
	if a.status != http.StatusAccepted {
		t.Fatalf("status = %d body %s, want 202", a.status, a.body)
	}
	if len(a.body) != 0 {
		t.Fatalf("body = %q, want empty", a.body)
	}
	id := a.header.Get("X-Message-Id")
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Fatalf("X-Message-Id = %q, want 24 hex chars", id)
	}

	msgs := m.Messages()
	if len(msgs) != 1 {
		t.Fatalf("stored %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.ID != id || len(got.To) != 1 || got.To[0] != "ada@acme.test" ||
		got.Subject != "Hello" || got.Text != "Hi Ada" || got.HTML != "<p>Hi Ada</p>" {
		t.Fatalf("stored %+v", got)
	}
	if got.ReceivedAt.Before(before) || got.ReceivedAt.After(time.Now().UTC().Add(time.Second)) {
		t.Fatalf("ReceivedAt = %v, not around now", got.ReceivedAt)
	}
}

func TestAcceptsEitherBody(t *testing.T) {
	m := New(10)
	srv := newServer(t, m)
	for _, body := range []string{
		`{"from":{"email":"a@x.test"},"to":[{"email":"b@x.test"}],"subject":"s","text":"only text"}`,
		`{"from":{"email":"a@x.test"},"to":[{"email":"b@x.test"}],"subject":"s","html":"<p>only html</p>"}`,
	} {
		if a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json; charset=utf-8", body); a.status != http.StatusAccepted {
			t.Fatalf("body %s: status %d %s", body, a.status, a.body)
		}
	}
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2", m.Len())
	}
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		fields map[string]string // field -> expected first message
	}{
		{
			name:   "from missing",
			body:   `{"to":[{"email":"b@x.test"}],"subject":"s","text":"t"}`,
			fields: map[string]string{"from.email": "The from.email field is required."},
		},
		{
			name:   "from email empty as the SDK sends it",
			body:   `{"from":{"name":"","email":""},"to":[{"email":"b@x.test"}],"subject":"s","text":"t"}`,
			fields: map[string]string{"from.email": "The from.email field is required."},
		},
		{
			name:   "from email invalid",
			body:   `{"from":{"email":"not-an-address"},"to":[{"email":"b@x.test"}],"subject":"s","text":"t"}`,
			fields: map[string]string{"from.email": "The from.email must be a valid email address."},
		},
		{
			name:   "to missing",
			body:   `{"from":{"email":"a@x.test"},"subject":"s","text":"t"}`,
			fields: map[string]string{"to": "The to field is required."},
		},
		{
			name:   "to empty",
			body:   `{"from":{"email":"a@x.test"},"to":[],"subject":"s","text":"t"}`,
			fields: map[string]string{"to": "The to field is required."},
		},
		{
			name:   "to email missing",
			body:   `{"from":{"email":"a@x.test"},"to":[{"name":"Ada","email":""}],"subject":"s","text":"t"}`,
			fields: map[string]string{"to.0.email": "The to.0.email field is required."},
		},
		{
			name:   "to email invalid",
			body:   `{"from":{"email":"a@x.test"},"to":[{"email":"b@x.test"},{"email":"Ada <ada@x.test>"}],"subject":"s","text":"t"}`,
			fields: map[string]string{"to.1.email": "The to.1.email must be a valid email address."},
		},
		{
			name:   "subject missing",
			body:   `{"from":{"email":"a@x.test"},"to":[{"email":"b@x.test"}],"text":"t"}`,
			fields: map[string]string{"subject": "The subject field is required."},
		},
		{
			name: "text and html missing",
			body: `{"from":{"email":"a@x.test"},"to":[{"email":"b@x.test"}],"subject":"s","text":"","html":""}`,
			fields: map[string]string{
				"text": "The text field is required when html is not present.",
				"html": "The html field is required when text is not present.",
			},
		},
		{
			name:   "too many tags",
			body:   `{"from":{"email":"a@x.test"},"to":[{"email":"b@x.test"}],"subject":"s","text":"t","tags":["1","2","3","4","5","6"]}`,
			fields: map[string]string{"tags": "The tags must not have more than 5 items."},
		},
		{
			name:   "wrong type",
			body:   `{"from":{"email":"a@x.test"},"to":"b@x.test","subject":"s","text":"t"}`,
			fields: map[string]string{"to": "The to field has an invalid type."},
		},
	}
	m := New(10)
	srv := newServer(t, m)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json", tc.body)
			if a.status != http.StatusUnprocessableEntity {
				t.Fatalf("status = %d body %s, want 422", a.status, a.body)
			}
			e := decodeError(t, a)
			if len(e.Errors) != len(tc.fields) {
				t.Fatalf("errors = %v, want exactly fields %v", e.Errors, tc.fields)
			}
			for field, want := range tc.fields {
				if got := e.Errors[field]; len(got) == 0 || got[0] != want {
					t.Fatalf("errors[%q] = %v, want %q", field, got, want)
				}
			}
			if !strings.HasPrefix(e.Message, "The ") {
				t.Fatalf("message = %q, want the first field error", e.Message)
			}
		})
	}
	if m.Len() != 0 {
		t.Fatalf("rejected requests stored %d messages", m.Len())
	}
}

func TestValidationMessageCountsTheRest(t *testing.T) {
	srv := newServer(t, New(1))
	a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json", `{}`)
	e := decodeError(t, a)
	// from.email, to, subject, text, html
	if want := "The from.email field is required. (and 4 more errors)"; e.Message != want {
		t.Fatalf("message = %q, want %q", e.Message, want)
	}
}

func TestAuthentication(t *testing.T) {
	m := New(10)
	srv := newServer(t, m)
	for _, auth := range []string{"", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "local-dev"} {
		a := post(t, srv.URL+"/dev/mailersend/v1/email", auth, "application/json", validBody)
		if a.status != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: status = %d, want 401", auth, a.status)
		}
		if e := decodeError(t, a); e.Message != "Unauthenticated." {
			t.Fatalf("Authorization %q: message = %q", auth, e.Message)
		}
	}
	if m.Len() != 0 {
		t.Fatalf("unauthenticated requests stored %d messages", m.Len())
	}
}

func TestRequestShapeErrors(t *testing.T) {
	m := New(10)
	srv := newServer(t, m)
	url := srv.URL + "/dev/mailersend/v1/email"

	if a := post(t, url, "Bearer k", "text/plain", validBody); a.status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: status %d, want 415", a.status)
	} else {
		decodeError(t, a)
	}
	if a := post(t, url, "Bearer k", "", validBody); a.status != http.StatusUnsupportedMediaType {
		t.Fatalf("no content type: status %d, want 415", a.status)
	}
	if a := post(t, url, "Bearer k", "application/json", `{"from":`); a.status != http.StatusBadRequest {
		t.Fatalf("broken JSON: status %d, want 400", a.status)
	} else {
		decodeError(t, a)
	}

	big := `{"from":{"email":"a@x.test"},"to":[{"email":"b@x.test"}],"subject":"s","text":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	if a := post(t, url, "Bearer k", "application/json", big); a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: status %d, want 413", a.status)
	} else {
		decodeError(t, a)
	}
	if m.Len() != 0 {
		t.Fatalf("rejected requests stored %d messages", m.Len())
	}
}

// A body streamed without Content-Length must hit the same limit while being
// read, not only through the header check.
func TestBodyLimitWithoutContentLength(t *testing.T) {
	m := New(1)
	big := `{"subject":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	req := httptest.NewRequest(http.MethodPost, "/v1/email", io.NopCloser(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	srv := newServer(t, New(1))

	a := post(t, srv.URL+"/dev/mailersend/v1/bulk-email", "Bearer k", "application/json", validBody)
	if a.status != http.StatusNotFound {
		t.Fatalf("unknown route: status %d, want 404", a.status)
	}
	decodeError(t, a)

	resp, err := http.Get(srv.URL + "/dev/mailersend/v1/email")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Fatalf("GET: status %d Allow %q, want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
	decodeError(t, answer{resp.StatusCode, resp.Header, body})
}
