package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

// Helpers shared by the integration tests of this package (rules, access, concurrency,
// idempotency, bad input, dashboard).

// agoDur is a seed timestamp d before now, to the second.
func agoDur(d time.Duration) *time.Time {
	t := time.Now().Add(-d).UTC().Truncate(time.Second)
	return &t
}

// finished is a finished (active) shoot completed days ago with n results.
func finished(days float64, n int) seed.Shoot {
	return seed.Shoot{Status: "active", CompletedAt: daysAgo(days), Results: n}
}

// person is an individual member with an address derived from the name.
func person(name string, shoots ...seed.Shoot) seed.Member {
	email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@acme.test"
	return seed.Member{Name: name, Email: apptest.Ptr(email), Kind: "individual", Shoots: shoots}
}

// seeded returns the member and its shoots' ids of a seeded organization, by member index.
func seeded(org *apptest.Org, i int) (memberID string, shootIDs []string) {
	m := org.File.Organizations[0].Members[i]
	for _, s := range m.Shoots {
		shootIDs = append(shootIDs, s.ID)
	}
	return m.ID, shootIDs
}

// The answers the tests read, built from the handlers' own types (export_test.go).
type (
	// memberPage answers GET /admin/members/:id.
	memberPage struct {
		Member       server.MemberDTO    `json:"member"`
		Allowance    server.AllowanceDTO `json:"allowance"`
		Shoots       []server.ShootDTO   `json:"shoots"`
		Retries      []server.RetryDTO   `json:"retries"`
		Restarts     []server.RestartDTO `json:"restarts"`
		PendingRetry *server.RetryDTO    `json:"pending_retry"`
	}
	// dashboard answers GET /admin/headshots without a section.
	dashboard struct {
		Sections map[string]server.SectionDTO `json:"sections"`
	}
	// shootAnswer answers the pipeline's complete and fail calls.
	shootAnswer struct {
		Shoot server.ShootDTO `json:"shoot"`
	}
	// startAnswer answers a member's start and submit.
	startAnswer struct {
		Shoot         server.ShootDTO       `json:"shoot"`
		CreditCharged bool                  `json:"credit_charged"`
		Retry         *server.MemberWorkDTO `json:"retry"`
		Restart       *server.MemberWorkDTO `json:"restart"`
	}
	// bulkAnswer answers POST /admin/restarts.
	bulkAnswer struct {
		Results []server.BulkResult `json:"results"`
	}
	// organization answers GET /admin/organization.
	organization struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		CreditBalance  int    `json:"credit_balance"`
		Members        int    `json:"members"`
		FinishedShoots int    `json:"finished_shoots"`
	}
)

// expectProblem asserts an RFC 9457 answer with the given status and code and returns it.
func expectProblem(t testing.TB, r *apptest.Response, status int, code string) server.ProblemBody {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (%s); body %s", r.Status, status, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type = %q, want application/problem+json (%s)", ct, r.Body)
	}
	body := apptest.Decode[server.ProblemBody](t, r)
	if body.Code != code {
		t.Fatalf("code = %q, want %s; body %s", body.Code, code, r.Body)
	}
	if body.Status != status {
		t.Fatalf("problem status member = %d, want %d", body.Status, status)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatal("problem answer without X-Request-Id")
	}
	return body
}

// expectStatus asserts a JSON success answer.
func expectStatus(t testing.TB, r *apptest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
}

// expectJSON asserts a JSON success answer and reads it as T.
func expectJSON[T any](t testing.TB, r *apptest.Response, status int) T {
	t.Helper()
	expectStatus(t, r, status)
	return apptest.Decode[T](t, r)
}

// codeOf is the problem code of an answer that must be a problem.
func codeOf(t testing.TB, r *apptest.Response) string {
	t.Helper()
	return apptest.Decode[server.ProblemBody](t, r).Code
}

func giveRetry(t testing.TB, app *apptest.App, key, memberID, shootID string, headers ...string) *apptest.Response {
	t.Helper()
	return app.Do(t, "POST", "/api/v1/admin/members/"+memberID+"/retries", key, map[string]any{"shoot_id": shootID}, headers...)
}

func previewRetry(t testing.TB, app *apptest.App, key, memberID, shootID string) *apptest.Response {
	t.Helper()
	return app.Do(t, "GET", "/api/v1/admin/members/"+memberID+"/retry-preview?shoot_id="+shootID, key, nil)
}

// memberDetail reads the admin's member page.
func memberDetail(t testing.TB, app *apptest.App, key, memberID string) memberPage {
	t.Helper()
	return expectJSON[memberPage](t, app.Do(t, "GET", "/api/v1/admin/members/"+memberID, key, nil), 200)
}

// allowanceOf reads a member's retry allowance (retry_credits, free_retry_available).
func allowanceOf(t testing.TB, app *apptest.App, key, memberID string) (credits int, free bool) {
	t.Helper()
	a := memberDetail(t, app, key, memberID).Allowance
	return a.RetryCredits, a.FreeRetryAvailable
}

// expectNoWorkflow asserts that no retry workflow was ever started for the shoot.
func expectNoWorkflow(t testing.TB, app *apptest.App, shootID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := app.Temporal.DescribeWorkflow(ctx, workflows.RetryWorkflowID(shootID), "")
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("describe %s: err = %v, want NotFound (a refused request must start no workflow)", workflows.RetryWorkflowID(shootID), err)
	}
}

// countRows counts rows of a table matching where.
func countRows(t testing.TB, app *apptest.App, table, where string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := app.DB.NewSelect().Table(table).Where(where, args...).Count(ctx)
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// cardsOf reads one dashboard section and returns its cards.
func cardsOf(t testing.TB, app *apptest.App, key, query string) []server.CardDTO {
	t.Helper()
	return expectJSON[server.SectionDTO](t, app.Do(t, "GET", "/api/v1/admin/headshots?"+query, key, nil), 200).Cards
}

func cardNames(cards []server.CardDTO) []string {
	names := make([]string, len(cards))
	for i, c := range cards {
		names[i] = c.Member.Name
	}
	return names
}

func hasAction(c server.CardDTO, action string) bool {
	return slices.Contains(c.Actions, action)
}

// doConcurrent is app.Do for goroutines other than the test's: it reports a transport
// failure as an error instead of calling t.Fatal.
func doConcurrent(app *apptest.App, method, path, bearer string, body any, headers ...string) (*apptest.Response, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(method, app.URL+path, bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := app.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// concurrently runs n calls at once (released together) and returns their answers in order.
func concurrently(t testing.TB, n int, call func(i int) (*apptest.Response, error)) []*apptest.Response {
	t.Helper()
	out := make([]*apptest.Response, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	done := make(chan int)
	for i := range n {
		go func() {
			<-gate
			out[i], errs[i] = call(i)
			done <- i
		}()
	}
	close(gate)
	for range n {
		<-done
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent call %d: %v", i, err)
		}
	}
	return out
}

func randomUUID() string { return uuid.NewString() }

// str reads an optional member of an answer: "" when it is null.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
