package store_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// loadCardEdgeCases makes an organization whose cards hold every kind of value the
// dashboard reads: names beyond ASCII and with quotes, no email, allowances at their
// edges, times before 2000 and with microseconds, pending retries, and members in all
// three sections, some with an older deleted shoot or a second open one.
func loadCardEdgeCases(t *testing.T, db *bun.DB) (org string, perSection map[string]int) {
	t.Helper()
	ctx := context.Background()
	if err := db.NewRaw(`INSERT INTO organizations (id, name, credit_balance)
		VALUES (gen_random_uuid(), 'Edge Cases', 5) RETURNING id`).Scan(ctx, &org); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO members (id, org_id, name, email, kind, retry_credits, free_retry_available)
		 SELECT gen_random_uuid(), ?0,
		        (ARRAY['Zoë Ångström', 'O''Brien "Ace"', '名前 テスト', 'Émile \ back', 'plain'])[1 + i % 5] || ' ' || i,
		        CASE WHEN i % 3 = 0 THEN NULL ELSE 'e' || i || '@edge.test' END,
		        CASE WHEN i % 3 = 0 THEN 'managed' ELSE 'individual' END,
		        CASE WHEN i % 4 = 0 THEN 2147483647 ELSE i % 3 END, i % 2 = 0
		 FROM generate_series(0, 59) AS i`,
		`INSERT INTO shoots (id, org_id, member_id, status, completed_at, deleted_at, retry_count, created_at)
		 SELECT gen_random_uuid(), ?0, m.id, 'deleted', timestamptz '1999-12-31 23:59:59.999999+00',
		        timestamptz '1970-01-01 00:00:00.000001+00', 0, now() - interval '90 days'
		 FROM members m WHERE m.org_id = ?0 AND right(m.name, 1) IN ('1', '7')`,
		`INSERT INTO shoots (id, org_id, member_id, status, completed_at, deleted_at, retry_count, created_at)
		 SELECT gen_random_uuid(), ?0, m.id, s.status,
		        CASE WHEN s.status = 'waiting' THEN NULL ELSE timestamptz '2026-11-30 12:34:56.123456+00' + n * interval '1 second' END,
		        CASE WHEN s.status = 'deleted' THEN timestamptz '2026-12-01 01:02:03.4+05:30' END,
		        n % 7, now() - interval '1 day'
		 FROM (SELECT id, substring(name FROM '[0-9]+$')::int AS n FROM members WHERE org_id = ?0) m,
		      LATERAL (SELECT CASE WHEN n % 5 = 0 THEN 'deleted' WHEN n % 5 = 1 THEN 'waiting' ELSE 'active' END AS status) s`,
		`INSERT INTO results (id, shoot_id, storage_key)
		 SELECT gen_random_uuid(), s.id, 'r/' || s.id || '/' || k
		 FROM shoots s, generate_series(1, 3) AS k WHERE s.org_id = ?0 AND s.status = 'active'`,
		`INSERT INTO retries (id, org_id, member_id, shoot_id, issued_by_kind, issued_by, issued_at,
		                      allowance_used, status, stage, workflow_id)
		 SELECT gen_random_uuid(), ?0, s.member_id, s.id, 'admin', gen_random_uuid(), now(), 'free_retry',
		        'pending', 'pending', 'retry-' || s.id
		 FROM shoots s WHERE s.org_id = ?0 AND s.status = 'active' AND s.retry_count = 3`,
	} {
		if _, err := db.ExecContext(ctx, q, org); err != nil {
			t.Fatalf("load edge cases: %v\n%s", err, q)
		}
	}
	perSection = map[string]int{}
	rows, err := db.QueryContext(ctx, `SELECT section, count(*) FROM dashboard_cards WHERE org_id = ? GROUP BY section`, org)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		perSection[s] = n
	}
	return org, perSection
}

// rawConn runs f on a pgx connection of db's pool, as the store's reads do.
func rawConn(t testing.TB, db *bun.DB, f func(*pgx.Conn)) {
	t.Helper()
	conn, err := db.DB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error { f(dc.(*stdlib.Conn).Conn()); return nil }); err != nil {
		t.Fatal(err)
	}
}

// Every card of every section, read by hand, by pgx's scan and by pgx's collector, must
// be the same card;
// the prepared page must come in the layout read by hand (else the test would pass with
// the hand path never taken), and the simple protocol's text rows must not.
func TestCardRowsDecodeAsPgxScans(t *testing.T) {
	db, _ := testenv.Database(t)
	org, perSection := loadCardEdgeCases(t, db)
	ctx := context.Background()
	rawConn(t, db, func(c *pgx.Conn) {
		for _, section := range []string{domain.SectionFinished, domain.SectionInProgress, domain.SectionDeleted} {
			if perSection[section] == 0 {
				t.Fatalf("the edge cases have no %s card", section)
			}
			st := store.DashboardStatement(store.DashboardQuery{OrgID: org, Section: section, Limit: 100})
			for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
				rows, err := c.Query(ctx, st.SQL, st.QueryArgs(mode)...)
				if err != nil {
					t.Fatal(err)
				}
				wantBinary := mode == pgx.QueryExecModeCacheStatement
				if got := store.BinaryCards(rows.FieldDescriptions()); got != wantBinary {
					t.Fatalf("%s in mode %v: BinaryCards = %v, want %v: %+v", section, mode, got, wantBinary, rows.FieldDescriptions())
				}
				n := 0
				for rows.Next() {
					n++
					if !wantBinary {
						continue
					}
					var byHand, scanned store.Card
					if !store.DecodeCard(rows.RawValues(), &byHand) {
						t.Fatalf("%s row %d: the hand decoder refused a row of the prepared page", section, n)
					}
					if err := store.ScanCard(rows, false, &scanned); err != nil {
						t.Fatal(err)
					}
					// pgx's collector matches columns to fields by name, so a column order that
					// the hand decoder and the positional scan shared by mistake shows here.
					named, err := pgx.RowToStructByName[store.Card](rows)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(byHand, scanned) || !reflect.DeepEqual(byHand, named) {
						t.Errorf("%s row %d:\nby hand %+v\nscanned %+v\nby name %+v", section, n, byHand, scanned, named)
					}
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				if n != perSection[section] {
					t.Fatalf("%s in mode %v: %d rows, want %d", section, mode, n, perSection[section])
				}
			}
		}
	})

	// Whatever the hand decoder does not read, it refuses, for pgx's scan to handle.
	good := [][]byte{make([]byte, 16), []byte("n"), nil, []byte("managed"), {0, 0, 0, 1}, {1},
		make([]byte, 16), []byte("active"), nil, nil, {0, 0, 0, 0}, {0, 0, 0, 2}, {0}, {0}, {1}}
	var k store.Card
	if !store.DecodeCard(good, &k) {
		t.Fatal("a well-formed row was refused")
	}
	infinity := []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	minusInfinity := []byte{0x80, 0, 0, 0, 0, 0, 0, 0}
	for name, change := range map[string]func(v [][]byte){
		"NULL member id":    func(v [][]byte) { v[0] = nil },
		"short uuid":        func(v [][]byte) { v[6] = v[6][:15] },
		"NULL name":         func(v [][]byte) { v[1] = nil },
		"eight-byte int":    func(v [][]byte) { v[4] = make([]byte, 8) },
		"two-byte bool":     func(v [][]byte) { v[12] = []byte{0, 1} },
		"infinity":          func(v [][]byte) { v[8] = infinity },
		"minus infinity":    func(v [][]byte) { v[9] = minusInfinity },
		"short timestamp":   func(v [][]byte) { v[8] = []byte{0, 0, 0, 1} },
		"a column too many": func(v [][]byte) {},
	} {
		v := make([][]byte, len(good))
		copy(v, good)
		v[0], v[6] = make([]byte, 16), make([]byte, 16)
		change(v)
		if name == "a column too many" {
			v = append(v, []byte{1})
		}
		if store.DecodeCard(v, &k) {
			t.Errorf("%s: accepted", name)
		}
	}
}
