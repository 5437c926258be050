package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// store.Card declares a dashboard card's fields once; the statement's columns, pgx's
// scan and the hand decoder each list them again by position. The columns must be the
// fields' bun names in order, in every section's variant of the statement.
func TestDashboardColumnsAreCardFields(t *testing.T) {
	db, _ := testenv.Database(t)
	var fields []string
	card := reflect.TypeFor[store.Card]()
	for i := range card.NumField() {
		name, _, _ := strings.Cut(card.Field(i).Tag.Get("bun"), ",")
		fields = append(fields, name)
	}
	for _, section := range []string{domain.SectionFinished, domain.SectionInProgress, domain.SectionDeleted} {
		for _, q := range []store.DashboardQuery{
			{OrgID: uuid.NewString(), Section: section, Limit: 1},
			{OrgID: uuid.NewString(), Section: section, Search: "a", After: &store.Cursor{Name: "a", ID: uuid.NewString()}, Limit: 1},
			{OrgID: uuid.NewString(), Section: section, Before: &store.Cursor{Name: "a", ID: uuid.NewString()}, Limit: 1},
		} {
			st := store.DashboardStatement(q)
			rows, err := db.DB.QueryContext(context.Background(), st.SQL, st.Args...)
			if err != nil {
				t.Fatal(err)
			}
			columns, err := rows.Columns()
			rows.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(columns, fields) {
				t.Errorf("%s (search %q): columns %v, Card's fields %v", section, q.Search, columns, fields)
			}
		}
	}
}

// Each column must also land in its own field, whichever way the page is read: by hand
// from the prepared first page's binary rows, or by pgx's scan from a search's text
// rows. Two Deleted cards hold a different value in every pair of columns of one type,
// so a scan or decode that swapped two fields would show.
func TestDashboardReadsEachColumnIntoItsField(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &v
	}
	org := &store.Organization{ID: uuid.NewString(), Name: "Columns", CreditBalance: 1}
	if _, err := db.NewInsert().Model(org).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	ann := store.Member{ID: uuid.NewString(), OrgID: org.ID, Name: "Ann Columns", Email: strPtr("ann@columns.test"),
		Kind: domain.KindIndividual, RetryCredits: 7, FreeRetryAvailable: true}
	bo := store.Member{ID: uuid.NewString(), OrgID: org.ID, Name: "Bo Columns", Kind: domain.KindManaged}
	if _, err := db.NewInsert().Model(&[]store.Member{ann, bo}).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	annShoot := store.Shoot{ID: uuid.NewString(), OrgID: org.ID, MemberID: ann.ID, Status: domain.ShootDeleted,
		CompletedAt: at("2026-11-01T10:00:00.123456Z"), DeletedAt: at("2026-11-20T08:30:00Z"), RetryCount: 2, CreatedAt: now}
	boShoot := store.Shoot{ID: uuid.NewString(), OrgID: org.ID, MemberID: bo.ID, Status: domain.ShootDeleted,
		DeletedAt: at("2026-10-05T00:00:00Z"), CreatedAt: now}
	// Bo's older shoot is still open, so Bo's card says has_open_shoot and Ann's does not.
	boOpen := store.Shoot{ID: uuid.NewString(), OrgID: org.ID, MemberID: bo.ID, Status: domain.ShootWaiting,
		CreatedAt: now.Add(-time.Hour)}
	if _, err := db.NewInsert().Model(&[]store.Shoot{annShoot, boShoot, boOpen}).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO results (id, shoot_id, storage_key)
		SELECT gen_random_uuid(), ?, 'r/' || k FROM generate_series(1, 3) AS k`, annShoot.ID); err != nil {
		t.Fatal(err)
	}

	want := []store.Card{
		{MemberID: ann.ID, Name: ann.Name, Email: ann.Email, Kind: ann.Kind, RetryCredits: 7, FreeRetryAvailable: true,
			ShootID: annShoot.ID, Status: domain.ShootDeleted, CompletedAt: annShoot.CompletedAt, DeletedAt: annShoot.DeletedAt,
			RetryCount: 2, ResultCount: 3, HasDeletedShoot: true},
		{MemberID: bo.ID, Name: bo.Name, Kind: bo.Kind, ShootID: boShoot.ID, Status: domain.ShootDeleted,
			DeletedAt: boShoot.DeletedAt, HasDeletedShoot: true, HasOpenShoot: true},
	}
	for _, q := range []store.DashboardQuery{
		{OrgID: org.ID, Section: domain.SectionDeleted, Limit: 10},                    // prepared, read by hand
		{OrgID: org.ID, Section: domain.SectionDeleted, Search: "columns", Limit: 10}, // simple protocol, scanned
	} {
		got, _, err := store.Dashboard(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			for _, p := range []**time.Time{&got[i].CompletedAt, &got[i].DeletedAt} {
				if *p != nil {
					u := (*p).UTC()
					*p = &u
				}
			}
		}
		// As JSON, the pointers show their values and equal instants compare equal.
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Errorf("search %q:\n got %s\nwant %s", q.Search, g, w)
		}
	}
}
