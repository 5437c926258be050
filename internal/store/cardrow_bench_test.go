package store_test

import (
	"context"
	"fmt"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// cardDecoder reads a page of cards from rows as the store's Dashboard would, adding the
// time it spends decoding rows (after pgx has received each) to spent.
type cardDecoder struct {
	name string
	read func(rows pgx.Rows, limit int, spent *time.Duration) ([]store.Card, error)
}

var cardDecoders = []cardDecoder{
	// cardrow is Dashboard's loop: the layout checked once, each row by hand.
	{"cardrow", func(rows pgx.Rows, limit int, spent *time.Duration) ([]store.Card, error) {
		defer rows.Close()
		cards := make([]store.Card, 0, limit+1)
		binary := store.BinaryCards(rows.FieldDescriptions())
		for rows.Next() {
			t := time.Now()
			cards = append(cards, store.Card{})
			err := store.ScanCard(rows, binary, &cards[len(cards)-1])
			*spent += time.Since(t)
			if err != nil {
				return nil, err
			}
		}
		return cards, rows.Err()
	}},
	// pgx-scan is the same loop with pgx's typed scan into the card's fields.
	{"pgx-scan", func(rows pgx.Rows, limit int, spent *time.Duration) ([]store.Card, error) {
		defer rows.Close()
		cards := make([]store.Card, 0, limit+1)
		for rows.Next() {
			t := time.Now()
			cards = append(cards, store.Card{})
			k := &cards[len(cards)-1]
			err := rows.Scan(&k.MemberID, &k.Name, &k.Email, &k.Kind, &k.RetryCredits, &k.FreeRetryAvailable,
				&k.ShootID, &k.Status, &k.CompletedAt, &k.DeletedAt, &k.RetryCount, &k.ResultCount,
				&k.PendingRetry, &k.HasDeletedShoot, &k.HasOpenShoot)
			*spent += time.Since(t)
			if err != nil {
				return nil, err
			}
		}
		return cards, rows.Err()
	}},
	// pgx-collect is pgx's generic collector, fields matched to columns by name.
	{"pgx-collect", func(rows pgx.Rows, limit int, spent *time.Duration) ([]store.Card, error) {
		return pgx.AppendRows(make([]store.Card, 0, limit+1), rows, func(row pgx.CollectableRow) (store.Card, error) {
			t := time.Now()
			k, err := pgx.RowToStructByName[store.Card](row)
			*spent += time.Since(t)
			return k, err
		})
	}},
}

// processCPU is the CPU time this process has used, user and system: the client's
// side of a round trip, without Postgres's.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadBenchCards seeds one organization of n members shaped like the dashboard
// benchmarks' (90% finished, 9% in progress, 1% deleted, an email each, one result per
// finished shoot) and analyzes the tables.
func loadBenchCards(b *testing.B, db *bun.DB, n int) string {
	b.Helper()
	done := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	gone := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
	members := make([]seed.Member, n)
	for i := range members {
		s := seed.Shoot{Status: "active", CompletedAt: &done, Results: 1}
		switch {
		case i%100 == 0:
			s = seed.Shoot{Status: "deleted", DeletedAt: &gone}
		case i%10 == 0:
			s = seed.Shoot{Status: "waiting"}
		}
		email := fmt.Sprintf("bench%05d@bench.test", i)
		members[i] = seed.Member{Name: fmt.Sprintf("Bench %05d", i), Email: &email, Kind: "managed",
			Shoots: []seed.Shoot{s}}
	}
	f := &seed.File{Organizations: []seed.Organization{{Name: "Card Rows",
		Admins:  []seed.Admin{{Email: "lead@bench.test", Name: "Lee", Role: "owner"}},
		Members: members}}}
	ctx := context.Background()
	if _, err := seed.Load(ctx, db, f); err != nil {
		b.Fatal(err)
	}
	var org string
	if err := db.NewRaw(`SELECT id FROM organizations WHERE name = 'Card Rows'`).Scan(ctx, &org); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return org
}

// BenchmarkCardRows reads the Finished section's prepared first page, as Dashboard sends
// it, over one connection, and decodes its rows by hand (cardrow.go) or with pgx's scan.
// The page sizes are the admin dashboard's overview (10) and the API's largest (100).
// Besides ns/op (the round trip, Postgres included) it reports cpu-ns/op, this process's
// CPU per page, and decode-ns/op, the time spent in the decoder itself (rows already
// received), which a loaded machine disturbs least. Run:
//
//	go test ./internal/store -run '^$' -bench BenchmarkCardRows -count 6
func BenchmarkCardRows(b *testing.B) {
	db, _ := testenv.Database(b)
	org := loadBenchCards(b, db, 250)
	ctx := context.Background()
	rawConn(b, db, func(c *pgx.Conn) {
		for _, limit := range []int{10, 100} {
			st := store.DashboardStatement(store.DashboardQuery{OrgID: org, Section: domain.SectionFinished, Limit: limit})
			args := st.QueryArgs(pgx.QueryExecModeCacheStatement)
			page := func(b *testing.B, d cardDecoder, spent *time.Duration) []store.Card {
				rows, err := c.Query(ctx, st.SQL, args...)
				if err != nil {
					b.Fatal(err)
				}
				cards, err := d.read(rows, limit, spent)
				if err != nil {
					b.Fatal(err)
				}
				return cards
			}
			// The decoders must read the same cards, or the figures compare different work;
			// the reads also prepare the statement and settle its plan before any timing.
			var want []store.Card
			for range 6 {
				for _, d := range cardDecoders {
					got := page(b, d, new(time.Duration))
					if want == nil {
						want = got
					}
					if len(got) != limit+1 || !reflect.DeepEqual(got, want) {
						b.Fatalf("%s read %d cards, different from %s's %d", d.name, len(got), cardDecoders[0].name, len(want))
					}
				}
			}
			for _, d := range cardDecoders {
				b.Run(fmt.Sprintf("decoder=%s/rows=%d", d.name, limit), func(b *testing.B) {
					b.ReportAllocs()
					var spent time.Duration
					cpu := processCPU(b)
					for b.Loop() {
						page(b, d, &spent)
					}
					b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
					b.ReportMetric(float64(spent)/float64(b.N), "decode-ns/op")
				})
			}
		}
	})
}
