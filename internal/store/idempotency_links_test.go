package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestMigrationStripsStoredLinks: answers kept under an Idempotency-Key before they were
// kept without access links lose their links to the migration, and nothing else: a
// restart's and each bulk result's other members stay, and answers without links keep
// their exact bytes.
func TestMigrationStripsStoredLinks(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	org := uuid.NewString()
	const link = "http://app.test/app/shoots/s/start?token=secret-token"
	answers := map[string]string{
		"restart": `{"id":"r1","member_id":"m1","new_shoot_id":"s1","email":{"status":"not_applicable","message_id":null},"access_link":"` + link + `","shoot":{"id":"s1"}}`,
		"bulk": `{"results":[{"member_id":"m1","outcome":"restarted","code":null,"restart":{"id":"r1","access_link":"` + link + `","shoot":{"id":"s1"}}},` +
			`{"member_id":"m2","outcome":"skipped","code":"not_managed","detail":"x","restart":null},` +
			`{"member_id":"m3","outcome":"restarted","code":null,"restart":{"id":"r3","email":{"status":"queued","message_id":null}}}]}`,
		"retry":   `{"id":"t1","note":"the word \"access_link\" in a note"}`,
		"refused": `{"type":"x","status":409,"code":"active_shoot_exists","detail":"\"access_link\""}`,
	}
	status := map[string]int{"restart": 201, "bulk": 200, "retry": 201, "refused": 409}
	for key, answer := range answers {
		if _, err := store.ClaimIdempotencyKey(ctx, db, org, key, "/r", "h", time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := store.SaveIdempotentResponse(ctx, db, org, key, "h", status[key], []byte(answer)); err != nil {
			t.Fatal(err)
		}
	}

	sql, err := store.MigrationSQL("20261206002101_idempotency_answers_without_links.tx.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, sql); err != nil {
		t.Fatalf("migration: %v", err)
	}

	stored := func(key string) string {
		var raw []byte
		if err := db.NewRaw("SELECT response FROM idempotency_keys WHERE org_id = ? AND key = ?", org, key).Scan(ctx, &raw); err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	same := func(key, want string) {
		t.Helper()
		var a, b any
		got := stored(key)
		if err := json.Unmarshal([]byte(got), &a); err != nil {
			t.Fatalf("%s: %v: %s", key, err, got)
		}
		_ = json.Unmarshal([]byte(want), &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s after the migration = %s, want %s", key, got, want)
		}
		if strings.Contains(got, "secret-token") {
			t.Errorf("%s still holds the link: %s", key, got)
		}
	}
	same("restart", `{"id":"r1","member_id":"m1","new_shoot_id":"s1","email":{"status":"not_applicable","message_id":null},"shoot":{"id":"s1"}}`)
	same("bulk", `{"results":[{"member_id":"m1","outcome":"restarted","code":null,"restart":{"id":"r1","shoot":{"id":"s1"}}},`+
		`{"member_id":"m2","outcome":"skipped","code":"not_managed","detail":"x","restart":null},`+
		`{"member_id":"m3","outcome":"restarted","code":null,"restart":{"id":"r3","email":{"status":"queued","message_id":null}}}]}`)
	for _, key := range []string{"retry", "refused"} {
		if got := stored(key); got != answers[key] {
			t.Errorf("%s was rewritten: %s, want the exact bytes %s", key, got, answers[key])
		}
	}
}
