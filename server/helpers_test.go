package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/headshotpro/retryd/internal/apptest"
	"github.com/headshotpro/retryd/internal/seed"
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

// expectProblem asserts an RFC 9457 answer with the given status and code and returns its body.
func expectProblem(t testing.TB, r *apptest.Response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (%s); body %s", r.Status, status, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type = %q, want application/problem+json (%s)", ct, r.Body)
	}
	body := r.JSON(t)
	if body["code"] != code {
		t.Fatalf("code = %v, want %s; body %s", body["code"], code, r.Body)
	}
	if body["status"] != float64(status) {
		t.Fatalf("problem status member = %v, want %d", body["status"], status)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatal("problem answer without X-Request-Id")
	}
	return body
}

// expectStatus asserts a JSON success answer and returns its body.
func expectStatus(t testing.TB, r *apptest.Response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	return r.JSON(t)
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
func memberDetail(t testing.TB, app *apptest.App, key, memberID string) map[string]any {
	t.Helper()
	return expectStatus(t, app.Do(t, "GET", "/api/v1/admin/members/"+memberID, key, nil), 200)
}

// allowanceOf reads a member's retry allowance (retry_credits, free_retry_available).
func allowanceOf(t testing.TB, app *apptest.App, key, memberID string) (credits float64, free bool) {
	t.Helper()
	a := memberDetail(t, app, key, memberID)["allowance"].(map[string]any)
	return a["retry_credits"].(float64), a["free_retry_available"].(bool)
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
func cardsOf(t testing.TB, app *apptest.App, key, query string) []map[string]any {
	t.Helper()
	body := expectStatus(t, app.Do(t, "GET", "/api/v1/admin/headshots?"+query, key, nil), 200)
	return toCards(t, body["cards"])
}

func toCards(t testing.TB, v any) []map[string]any {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("cards = %#v, want an array", v)
	}
	out := make([]map[string]any, len(arr))
	for i, c := range arr {
		out[i] = c.(map[string]any)
	}
	return out
}

func cardNames(cards []map[string]any) []string {
	names := make([]string, len(cards))
	for i, c := range cards {
		names[i] = c["member"].(map[string]any)["name"].(string)
	}
	return names
}

func cardActions(c map[string]any) []string {
	var out []string
	for _, a := range c["actions"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

func hasAction(c map[string]any, action string) bool {
	for _, a := range cardActions(c) {
		if a == action {
			return true
		}
	}
	return false
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
