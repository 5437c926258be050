package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
)

// Card is one member on the dashboard with their most recent shoot. Its fields are the
// dashboard statement's columns, in order and named by their bun tags; dashboard_test.go
// holds the statement, pgx's scan and the hand decoder (cardrow.go) to them.
type Card struct {
	MemberID           string     `bun:"member_id"`
	Name               string     `bun:"name"`
	Email              *string    `bun:"email"`
	Kind               string     `bun:"kind"`
	RetryCredits       int        `bun:"retry_credits"`
	FreeRetryAvailable bool       `bun:"free_retry_available"`
	ShootID            string     `bun:"shoot_id"`
	Status             string     `bun:"status"`
	CompletedAt        *time.Time `bun:"completed_at"`
	DeletedAt          *time.Time `bun:"deleted_at"`
	RetryCount         int        `bun:"retry_count"`
	ResultCount        int        `bun:"result_count"`
	PendingRetry       bool       `bun:"pending_retry"`
	// HasDeletedShoot and HasOpenShoot are what the restart action of a Deleted card
	// needs. Elsewhere the card's own shoot is open and not deleted, which is what they
	// say there; an older deleted shoot of a Finished or In Progress member is not looked
	// for, as no action of those sections depends on it.
	HasDeletedShoot bool `bun:"has_deleted_shoot"`
	HasOpenShoot    bool `bun:"has_open_shoot"`
}

// DashboardQuery selects one page of one section.
type DashboardQuery struct {
	OrgID string
	// Section is domain.SectionFinished, SectionInProgress or SectionDeleted: the section
	// of the member's most recent shoot, as dashboard_cards keeps it.
	Section string
	Search  string
	// After pages forward: the cards after this position. Before pages back: the Limit
	// cards just before it, still in ascending order. At most one of them is set.
	After  *Cursor
	Before *Cursor
	Limit  int
}

// Cursor is the keyset position: a card's member name and id (the last card of a page
// for the next one, the first for the previous one).
type Cursor struct {
	Name string `json:"n"`
	ID   string `json:"i"`
}

// Dashboard answers a page of cards ordered by member name then id, and whether more
// follow in the direction of paging: after the page, or before it when q.Before is set.
//
// The page is chosen first, as one keyset range of dashboard_cards (LIMIT inside a
// subquery, which the planner cannot flatten, so it knows the outer rows are at most
// Limit+1), and only then are the per-card facts read for those rows: the member and the
// shoot by primary key, and the pending retry and other shoots, each a LATERAL probe.
// The LIMIT 1 in each probe keeps it a parameterized index probe per card, which the
// planner cannot turn into a join: written as plain joins or EXISTS, analyzed statistics
// make hash joins and hashed subplans that read the whole table of every organization.
func Dashboard(ctx context.Context, db *bun.DB, q DashboardQuery) ([]Card, bool, error) {
	cards := make([]Card, 0, q.Limit+1)
	binary, described := false, false
	err := readPgx(ctx, db, DashboardStatement(q), dashboardMode(q), func(rows pgx.Rows) error {
		if !described {
			binary, described = binaryCards(rows.FieldDescriptions()), true
		}
		cards = append(cards, Card{})
		return scanCard(rows, binary, &cards[len(cards)-1])
	})
	if err != nil {
		return nil, false, err
	}
	more := len(cards) > q.Limit
	if more {
		// The extra row is the one beyond the page in the direction of paging: the
		// statement returns ascending order either way, so paging back it comes first.
		if q.Before != nil {
			cards = cards[1:]
		} else {
			cards = cards[:q.Limit]
		}
	}
	return cards, more, nil
}

// dashboardMode says how the page's statement is sent. A first page without search has
// one text per section and page size, whatever the organization (the organization and
// section are parameters), so it is prepared and cached per connection and planned once;
// a search or a cursor goes in one round trip by the simple protocol, like bun's
// statements, and is planned for its own values: a generic plan cannot know whether a
// search matches ten cards or ten thousand.
func dashboardMode(q DashboardQuery) pgx.QueryExecMode {
	if q.Search == "" && q.After == nil && q.Before == nil {
		return pgx.QueryExecModeCacheStatement
	}
	return pgx.QueryExecModeSimpleProtocol
}

// Statement is SQL text with $1, $2, … placeholders and the values for them.
type Statement struct {
	SQL  string
	Args []any
}

// QueryArgs are the arguments of pgx's Query for the statement sent in mode: pgx takes
// the mode as the first argument, ahead of the values.
func (st Statement) QueryArgs(mode pgx.QueryExecMode) []any {
	return append([]any{mode}, st.Args...)
}

// The dashboard statement's fixed parts. Its columns are Card's fields in order. The
// statuses in it are literals, not parameters: the first page is prepared, and its generic
// plan must see that the pending-retry probe is the partial index on pending retries.
const (
	dashboardSelect = `SELECT p.member_id, m.name, m.email, m.kind, m.retry_credits, m.free_retry_available, ` +
		`s.id AS shoot_id, s.status, s.completed_at, s.deleted_at, s.retry_count, s.result_count, ` +
		`pr.member_id IS NOT NULL AS pending_retry, `
	dashboardPage = `FROM (SELECT c.member_id, c.name, c.shoot_id FROM dashboard_cards AS c ` +
		`WHERE c.org_id = $1 AND c.section = $2`
	dashboardFacts = `) AS p ` +
		`JOIN LATERAL (SELECT mm.name, mm.email, mm.kind, mm.retry_credits, mm.free_retry_available ` +
		`FROM members AS mm WHERE mm.id = p.member_id LIMIT 1) AS m ON true ` +
		`JOIN LATERAL (SELECT ss.id, ss.status, ss.completed_at, ss.deleted_at, ss.retry_count, ss.result_count ` +
		`FROM shoots AS ss WHERE ss.id = p.shoot_id LIMIT 1) AS s ON true ` +
		`LEFT JOIN LATERAL (SELECT r.member_id FROM retries AS r ` +
		`WHERE r.member_id = p.member_id AND r.status = 'pending' LIMIT 1) AS pr ON true `
	// The card's shoot is deleted; a restart also needs no other shoot to be open.
	dashboardOtherShoots = `LEFT JOIN LATERAL (SELECT o.id FROM shoots AS o ` +
		`WHERE o.member_id = p.member_id AND o.status <> 'deleted' LIMIT 1) AS os ON true `
	dashboardOrder = `ORDER BY p.name, p.member_id`
)

// DashboardStatement is the one statement Dashboard sends for q: the benchmarks send it
// straight to Postgres as the page's database floor, and the plan test explains it.
//
// It is written out rather than built with bun: its text is the same for every
// organization, which is what lets the first page be prepared once per connection, and
// building it is a few appends on a path that runs for every dashboard request.
func DashboardStatement(q DashboardQuery) Statement {
	args := make([]any, 2, 5)
	args[0], args[1] = q.OrgID, q.Section
	b := make([]byte, 0, 1024)
	b = append(b, dashboardSelect...)
	if q.Section == domain.SectionDeleted {
		b = append(b, "true AS has_deleted_shoot, os.id IS NOT NULL AS has_open_shoot "...)
	} else {
		b = append(b, "false AS has_deleted_shoot, true AS has_open_shoot "...)
	}
	b = append(b, dashboardPage...)
	if q.Search != "" {
		// The first condition is the one the trigram index answers; the second keeps the
		// exact meaning (name or email contains the text), which a term spanning the
		// separator of the search column could otherwise stretch.
		args = append(args, "%"+escapeLike(q.Search)+"%")
		b = append(b, " AND c.search LIKE lower($3) AND (c.name ILIKE $3 OR c.email ILIKE $3)"...)
	}
	// Paging back reads the same index range backwards: the page just before the cursor,
	// put back in ascending order by the outer ORDER BY.
	order := " ORDER BY c.name, c.member_id LIMIT "
	switch {
	case q.After != nil:
		n := len(args)
		args = append(args, q.After.Name, q.After.ID)
		b = fmt.Appendf(b, " AND (c.name, c.member_id) > ($%d, $%d::uuid)", n+1, n+2)
	case q.Before != nil:
		n := len(args)
		args = append(args, q.Before.Name, q.Before.ID)
		b = fmt.Appendf(b, " AND (c.name, c.member_id) < ($%d, $%d::uuid)", n+1, n+2)
		order = " ORDER BY c.name DESC, c.member_id DESC LIMIT "
	}
	b = append(b, order...)
	b = strconv.AppendInt(b, int64(q.Limit)+1, 10)
	b = append(b, dashboardFacts...)
	if q.Section == domain.SectionDeleted {
		b = append(b, dashboardOtherShoots...)
	}
	b = append(b, dashboardOrder...)
	return Statement{SQL: string(b), Args: args}
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

// OrgSummary is the dashboard header.
type OrgSummary struct {
	ID             string `bun:"id"`
	Name           string `bun:"name"`
	CreditBalance  int    `bun:"credit_balance"`
	Members        int    `bun:"members"`
	FinishedShoots int    `bun:"finished_shoots"`
}

// GetOrgSummary reads the header: the counts come from org_counters, which triggers keep
// in step with members and shoots, so the header costs two primary-key reads however
// large the organization is.
func GetOrgSummary(ctx context.Context, db bun.IDB, orgID string) (*OrgSummary, error) {
	s := new(OrgSummary)
	err := db.NewRaw(`SELECT o.id, o.name, o.credit_balance,
		coalesce(k.members, 0) AS members, coalesce(k.finished_shoots, 0) AS finished_shoots
		FROM organizations AS o LEFT JOIN org_counters AS k ON k.org_id = o.id
		WHERE o.id = ?`, orgID).Scan(ctx, s)
	if err != nil {
		return nil, notFound(err, "organization")
	}
	return s, nil
}

// CountPending counts pending retries and restarts across organizations (the metrics
// gauge); the partial indexes on status = 'pending' keep it cheap.
func CountPending(ctx context.Context, db bun.IDB) (retries, restarts int, err error) {
	err = db.NewRaw(`SELECT (SELECT count(*) FROM retries WHERE status = 'pending'),
		(SELECT count(*) FROM restarts WHERE status = 'pending')`).Scan(ctx, &retries, &restarts)
	return retries, restarts, err
}
