package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

var auditCSVHeader = []string{"id", "occurred_at", "action", "actor_kind", "actor_id", "actor_name", "credential_kind",
	"credential_id", "key_id", "target_kind", "target_id", "member_id", "outcome", "request_id"}

// readAuditCSV parses an export as RFC 4180 and returns its rows by column name.
func readAuditCSV(t testing.TB, body []byte) []map[string]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(body))
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the export is not RFC 4180 CSV: %v\n%s", err, body)
	}
	if len(records) == 0 || !slices.Equal(records[0], auditCSVHeader) {
		t.Fatalf("header = %v, want %v", records, auditCSVHeader)
	}
	var out []map[string]string
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, col := range auditCSVHeader {
			row[col] = rec[i]
		}
		out = append(out, row)
	}
	return out
}

// TestAuditCSV: an admin downloads a time range of the audit log as CSV that
// encoding/csv reads back: the listing's columns, quoting where a cell needs it, and no
// cell a spreadsheet would run as a formula. An export over the row bound is refused in
// words; the filters and their problems are the listing's.
func TestAuditCSV(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10,
		person("Maya Chen", finished(5, 8)),
		// A member's name is what a member's own event shows as its actor.
		seed.Member{Name: `=HYPERLINK("http://evil.test","x, y")`, Email: apptest.Ptr("f@acme.test"), Kind: "individual", Shoots: []seed.Shoot{{Status: "onboarding"}}},
	)
	maya, mayaShoots := seeded(org, 0)
	formula, formulaShoots := seeded(org, 1)
	before := time.Now().UTC().Add(-time.Second)

	retryID := expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, maya, mayaShoots[0], "X-Request-Id", "-1"), 201).ID
	token, _ := app.Links.Issue(formula, formulaShoots[0], time.Now())
	expectStatus(t, app.Do(t, "POST", "/api/v1/member/shoots/"+formulaShoots[0]+"/start", token, nil, "X-Request-Id", "-start"), 200)
	after := time.Now().UTC().Add(time.Second)

	q := url.Values{"since": {before.Format(time.RFC3339)}, "until": {after.Format(time.RFC3339)}}
	r := app.Do(t, "GET", "/api/v1/admin/audit.csv?"+q.Encode(), org.AdminKey, nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export = %d %q: %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
		t.Errorf("Content-Disposition = %q, want an attachment named .csv", cd)
	}
	if !bytes.Contains(r.Body, []byte("\r\n")) {
		t.Error("RFC 4180 lines end in CRLF")
	}
	rows := readAuditCSV(t, r.Body)
	if len(rows) != 2 {
		t.Fatalf("rows = %v, want the start and the give", rows)
	}
	start, give := rows[0], rows[1]
	if give["action"] != "retry.give" || give["actor_id"] != org.AdminID || give["actor_name"] != "Lee" || give["credential_kind"] != "api_key" ||
		give["credential_id"] != keyID(t, app, org.ID, "admin") || give["target_id"] != retryID || give["member_id"] != maya || give["outcome"] != "reserved" {
		t.Errorf("give row = %v", give)
	}
	if at, err := time.Parse(time.RFC3339Nano, give["occurred_at"]); err != nil || at.Before(before) || at.After(after) {
		t.Errorf("occurred_at = %q: %v", give["occurred_at"], err)
	}
	// Cells that start with = + - @ are prefixed with a quote so no spreadsheet runs them;
	// the rest of the cell is kept, quotes and commas included.
	if give["request_id"] != "'-1" {
		t.Errorf("request id cell = %q, want '-1", give["request_id"])
	}
	if start["action"] != "shoot.start" || start["actor_name"] != `'=HYPERLINK("http://evil.test","x, y")` || start["request_id"] != "'-start" ||
		start["credential_kind"] != "member_link" || start["credential_id"] != "" {
		t.Errorf("member's start row = %v", start)
	}
	for _, row := range rows {
		for col, v := range row {
			if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
				t.Errorf("%s cell %q could run as a formula", col, v)
			}
		}
	}
	if bytes.Contains(r.Body, []byte(org.AdminKey)) || bytes.Contains(r.Body, []byte(token)) {
		t.Error("the export holds a secret")
	}

	// The listing's filters: a range with nothing in it is the header alone.
	empty := readAuditCSV(t, app.Do(t, "GET", "/api/v1/admin/audit.csv?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z", org.AdminKey, nil).Body)
	if len(empty) != 0 {
		t.Errorf("an empty range exported %v", empty)
	}
	if got := readAuditCSV(t, app.Do(t, "GET", "/api/v1/admin/audit.csv?action=shoot.start", org.AdminKey, nil).Body); len(got) != 1 || got[0]["action"] != "shoot.start" {
		t.Errorf("action filter exported %v", got)
	}
	expectProblem(t, app.Do(t, "GET", "/api/v1/admin/audit.csv?since=last+week", org.AdminKey, nil), 422, "invalid_time_range")
	expectProblem(t, app.Do(t, "GET", "/api/v1/admin/audit.csv?action=everything", org.AdminKey, nil), 422, "unknown_audit_action")
	expectProblem(t, app.Do(t, "GET", "/api/v1/admin/audit.csv", org.AutomationKey, nil), 403, "forbidden_for_role")

	// Over the bound (100000 rows): refused before a byte of CSV, with what to do.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := app.DB.ExecContext(ctx, `INSERT INTO audit_events (org_id, actor_kind, actor_id, action, target_kind, target_id, outcome, credential_kind, created_at)
		SELECT ?, 'admin', ?, 'retry.give', 'retry', i::text, 'reserved', 'api_key', timestamptz '2026-01-01' + i * interval '1 second'
		FROM generate_series(1, ?) AS i`, org.ID, org.AdminID, 100000); err != nil {
		t.Fatal(err)
	}
	p := expectProblem(t, app.Do(t, "GET", "/api/v1/admin/audit.csv", org.AdminKey, nil), 422, "export_too_large")
	if !strings.Contains(p.Detail, "100000") || !strings.Contains(p.Detail, "since") {
		t.Errorf("detail = %q, want the bound and how to narrow the range", p.Detail)
	}
	// A range within the bound still exports.
	if got := readAuditCSV(t, app.Do(t, "GET", "/api/v1/admin/audit.csv?"+q.Encode(), org.AdminKey, nil).Body); len(got) != 2 {
		t.Errorf("the recent range exported %d rows, want 2", len(got))
	}
}
