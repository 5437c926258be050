package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// The plan test checks the shape of every dashboard, header and member-detail query on
// analyzed tables that hold several organizations, one of them large: no sequential scan
// of a large table, and no node that reads more rows than the page shows times
// readFactor. It never looks at a time.
//
// Rows read are the executor's counts (EXPLAIN ANALYZE with TIMING OFF: rows returned
// plus rows removed by a filter or a recheck, times loops). The planner's estimates cannot
// serve: under a LIMIT an index scan's estimate is the whole range it could read, not the
// page it does read, and missing or stale statistics are exactly what this must not
// depend on. The counts depend on the data and the plan only, so the test is as stable as
// the plan.

const (
	bigOrgMembers   = 10000
	smallOrgs       = 4
	smallOrgMembers = 300
	pageSize        = 50
	// readFactor bounds rows read per node by the rows the query shows: keyset pages read
	// their page plus one, per-card probes read at most one row or a member's own shoots.
	readFactor = 4
)

// watched are the tables whose whole-table reads the dashboard must never do: they grow
// with every organization's members.
var watched = map[string]bool{
	"members": true, "shoots": true, "results": true, "retries": true,
	"restarts": true, "dashboard_cards": true,
}

// loadPlanData fills the database with one large organization and several small ones with
// plain set-based INSERTs (a few seconds), then ANALYZEs it, as every production cluster
// does on its own. Per organization, members are named "Member 00000"…; every 100th
// member's latest shoot is deleted, every 10th is in progress, the others finished with 4
// results; every 50th has an older deleted shoot too; every 20th finished member had a
// retry (pending for half of them, and those with a note); deleted members were restarted
// once in four.
func loadPlanData(t *testing.T, db *bun.DB) (bigOrg string) {
	t.Helper()
	ctx := context.Background()
	orgs := []struct {
		name    string
		members int
	}{{"Big", bigOrgMembers}}
	for i := 0; i < smallOrgs; i++ {
		orgs = append(orgs, struct {
			name    string
			members int
		}{fmt.Sprintf("Small %d", i), smallOrgMembers})
	}
	for _, o := range orgs {
		var id string
		if err := db.NewRaw(`INSERT INTO organizations (id, name, credit_balance)
			VALUES (gen_random_uuid(), ?, 100) RETURNING id`, o.name).Scan(ctx, &id); err != nil {
			t.Fatalf("insert organization: %v", err)
		}
		if bigOrg == "" {
			bigOrg = id
		}
		stmts := []string{
			`INSERT INTO members (id, org_id, name, email, kind)
			 SELECT gen_random_uuid(), ?0, 'Member ' || lpad(i::text, 5, '0'),
			        'm' || lpad(i::text, 5, '0') || '@org.test',
			        CASE WHEN i % 2 = 0 THEN 'managed' ELSE 'individual' END
			 FROM generate_series(0, ?1 - 1) AS i`,
			// Older deleted shoots of every 50th member.
			`INSERT INTO shoots (id, org_id, member_id, status, deleted_at, created_at)
			 SELECT gen_random_uuid(), ?0, m.id, 'deleted', now() - interval '40 days', now() - interval '50 days'
			 FROM members m WHERE m.org_id = ?0 AND substr(m.name, 8)::int % 50 = 0`,
			`INSERT INTO shoots (id, org_id, member_id, status, completed_at, deleted_at, created_at)
			 SELECT gen_random_uuid(), ?0, m.id,
			        CASE WHEN n % 100 = 0 THEN 'deleted' WHEN n % 10 = 0 THEN 'waiting' ELSE 'active' END,
			        CASE WHEN n % 10 <> 0 THEN now() - interval '3 days' END,
			        CASE WHEN n % 100 = 0 THEN now() - interval '1 day' END,
			        now() - interval '10 days'
			 FROM (SELECT id, substr(name, 8)::int AS n FROM members WHERE org_id = ?0) m`,
			`INSERT INTO results (id, shoot_id, storage_key)
			 SELECT gen_random_uuid(), s.id, 'results/' || s.id || '/' || k
			 FROM shoots s, generate_series(1, 4) AS k WHERE s.org_id = ?0 AND s.status = 'active'`,
			`INSERT INTO retries (id, org_id, member_id, shoot_id, issued_by_kind, issued_by, issued_at,
			                      allowance_used, status, stage, workflow_id)
			 SELECT gen_random_uuid(), ?0, m.id, s.id, 'admin', gen_random_uuid(), now() - interval '2 days',
			        'free_retry', CASE WHEN m.n % 40 = 1 THEN 'pending' ELSE 'started' END,
			        CASE WHEN m.n % 40 = 1 THEN 'pending' ELSE 'started' END, 'retry-' || s.id
			 FROM (SELECT id, substr(name, 8)::int AS n FROM members WHERE org_id = ?0) m
			 JOIN shoots s ON s.member_id = m.id AND s.status = 'active'
			 WHERE m.n % 20 = 1`,
			`INSERT INTO retry_notes (retry_id, note)
			 SELECT r.id, 'bad lighting' FROM retries r JOIN members m ON m.id = r.member_id
			 WHERE r.org_id = ?0 AND substr(m.name, 8)::int % 40 = 1`,
			`INSERT INTO restarts (id, org_id, member_id, old_shoot_id, new_shoot_id, issued_by_kind, issued_by,
			                       issued_at, status, stage, workflow_id)
			 SELECT gen_random_uuid(), ?0, s.member_id, s.id, s.id, 'automation', gen_random_uuid(),
			        now() - interval '30 days', 'started', 'started', 'restart-' || s.id
			 FROM shoots s JOIN members m ON m.id = s.member_id
			 WHERE s.org_id = ?0 AND s.status = 'deleted' AND substr(m.name, 8)::int % 4 = 0`,
		}
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q, id, o.members); err != nil {
				t.Fatalf("load %s: %v\n%s", o.name, err, q)
			}
		}
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatalf("analyze: %v", err)
	}
	for table := range watched {
		var tuples float64
		if err := db.NewRaw("SELECT reltuples FROM pg_class WHERE relname = ?", table).Scan(ctx, &tuples); err != nil {
			t.Fatal(err)
		}
		if tuples <= 0 {
			t.Fatalf("%s has no statistics after ANALYZE (reltuples %v)", table, tuples)
		}
	}
	return bigOrg
}

// queryLog keeps every query run through a bun.DB it hooks (bun writes the values into
// the text, so they have no arguments).
type queryLog struct {
	mu      sync.Mutex
	queries []store.Statement
}

func (l *queryLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (l *queryLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = append(l.queries, store.Statement{SQL: e.Query})
}

// record adds a statement sent around bun (store.Dashboard reads through pgx).
func (l *queryLog) record(st store.Statement) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = append(l.queries, st)
}

func (l *queryLog) take() []store.Statement {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queries
	l.queries = nil
	return q
}

// planNode is the part of EXPLAIN (FORMAT JSON) the checks read.
type planNode struct {
	NodeType       string     `json:"Node Type"`
	Relation       string     `json:"Relation Name"`
	Index          string     `json:"Index Name"`
	Alias          string     `json:"Alias"`
	PlanRows       float64    `json:"Plan Rows"`
	ActualRows     float64    `json:"Actual Rows"`
	ActualLoops    float64    `json:"Actual Loops"`
	RemovedFilter  float64    `json:"Rows Removed by Filter"`
	RemovedRecheck float64    `json:"Rows Removed by Index Recheck"`
	Plans          []planNode `json:"Plans"`
}

// rowsRead is what the node took from its relation over all its loops.
func (n *planNode) rowsRead() float64 {
	return (n.ActualRows + n.RemovedFilter + n.RemovedRecheck) * n.ActualLoops
}

func (n *planNode) shape(b *strings.Builder, depth int) {
	fmt.Fprintf(b, "%s%s", strings.Repeat("  ", depth), n.NodeType)
	if n.Relation != "" {
		fmt.Fprintf(b, " on %s", n.Relation)
	}
	if n.Index != "" {
		fmt.Fprintf(b, " using %s", n.Index)
	}
	if n.Relation != "" || n.Index != "" {
		fmt.Fprintf(b, " (read %.0f rows in %.0f loops)", n.rowsRead(), n.ActualLoops)
	}
	b.WriteString("\n")
	for i := range n.Plans {
		n.Plans[i].shape(b, depth+1)
	}
}

func (n *planNode) walk(f func(*planNode)) {
	f(n)
	for i := range n.Plans {
		n.Plans[i].walk(f)
	}
}

// explain runs EXPLAIN ANALYZE without timing and returns the plan's root. The pool
// sends by the simple protocol, so the arguments are in the text Postgres plans, as for
// every statement retryd does not prepare.
func explain(t *testing.T, db *sql.DB, st store.Statement) planNode {
	t.Helper()
	var raw string
	if err := db.QueryRowContext(context.Background(),
		"EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, FORMAT JSON) "+st.SQL, st.Args...).Scan(&raw); err != nil {
		t.Fatalf("explain: %v\n%s", err, st.SQL)
	}
	return parsePlan(t, raw)
}

// explainGeneric explains the plan a prepared statement settles on: Postgres plans a
// prepared statement for its values five times, then may keep a generic plan, made
// without them, for every later execution. force_generic_plan shows that plan at once.
func explainGeneric(t *testing.T, db *sql.DB, st store.Statement) planNode {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	params := make([]string, len(st.Args))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	var raw string
	for _, step := range []struct {
		q    string
		args []any
		out  *string
	}{
		{q: "SET plan_cache_mode = force_generic_plan"},
		{q: "PREPARE plan_check AS " + st.SQL},
		{q: "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY OFF, FORMAT JSON) EXECUTE plan_check(" + strings.Join(params, ", ") + ")", args: st.Args, out: &raw},
		{q: "DEALLOCATE plan_check"},
		{q: "RESET plan_cache_mode"},
	} {
		var err error
		if step.out != nil {
			err = conn.QueryRowContext(ctx, step.q, step.args...).Scan(step.out)
		} else {
			_, err = conn.ExecContext(ctx, step.q, step.args...)
		}
		if err != nil {
			t.Fatalf("generic plan: %s: %v", step.q, err)
		}
	}
	return parsePlan(t, raw)
}

func parsePlan(t *testing.T, raw string) planNode {
	t.Helper()
	var out []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil || len(out) != 1 {
		t.Fatalf("parse plan: %v\n%s", err, raw)
	}
	return out[0].Plan
}

// checkPlans explains every query the call ran and checks each plan.
func checkPlans(t *testing.T, db *sql.DB, log *queryLog, name string, shown int) {
	t.Helper()
	queries := log.take()
	if len(queries) == 0 {
		t.Fatalf("%s: ran no query", name)
	}
	for _, q := range queries {
		checkPlan(t, name, q.SQL, explain(t, db, q), shown)
	}
}

// checkPlan fails on a sequential scan of a watched table or a node reading more than
// readFactor × shown rows from one.
func checkPlan(t *testing.T, name, query string, root planNode, shown int) {
	t.Helper()
	limit := float64(readFactor * max(shown, 1))
	var b strings.Builder
	root.shape(&b, 1)
	t.Logf("%s:\n%s", name, b.String())
	root.walk(func(n *planNode) {
		if !watched[n.Relation] {
			return
		}
		if n.NodeType == "Seq Scan" {
			t.Errorf("%s: sequential scan of %s\n%s\n%s", name, n.Relation, query, b.String())
		}
		if n.rowsRead() > limit {
			t.Errorf("%s: %s on %s read %.0f rows, more than %d × %d shown\n%s\n%s",
				name, n.NodeType, n.Relation, n.rowsRead(), readFactor, max(shown, 1), query, b.String())
		}
	})
}

func TestDashboardPlansReadOnlyThePage(t *testing.T) {
	base, _ := testenv.Database(t)
	bigOrg := loadPlanData(t, base)
	log := &queryLog{}
	db := base.WithQueryHook(log) // the same pool, with the hook
	ctx := context.Background()

	for _, section := range []string{domain.SectionFinished, domain.SectionInProgress, domain.SectionDeleted} {
		for _, search := range []string{"", "member 0123", "Member", "nobody"} {
			q := store.DashboardQuery{OrgID: bigOrg, Section: section, Search: search, Limit: pageSize}
			cards, more, err := store.Dashboard(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			st := store.DashboardStatement(q)
			log.record(st)
			name := fmt.Sprintf("dashboard %s q=%q first page", section, search)
			checkPlans(t, db.DB, log, name, pageSize+1)
			if search == "" {
				// The first page is prepared per connection: its generic plan is the one
				// most requests run.
				checkPlan(t, name+", generic plan", st.SQL, explainGeneric(t, db.DB, st), pageSize+1)
			}
			if search == "" && len(cards) != pageSize {
				t.Fatalf("%s: %d cards, want a full page of %d", name, len(cards), pageSize)
			}
			if !more {
				continue
			}
			last := cards[len(cards)-1]
			q.After = &store.Cursor{Name: last.Name, ID: last.MemberID}
			if _, _, err := store.Dashboard(ctx, db, q); err != nil {
				t.Fatal(err)
			}
			log.record(store.DashboardStatement(q))
			checkPlans(t, db.DB, log, fmt.Sprintf("dashboard %s q=%q next page", section, search), pageSize+1)
			// Back from the second page: the same index range, read backwards.
			q.Before, q.After = &store.Cursor{Name: cards[len(cards)-1].Name, ID: cards[len(cards)-1].MemberID}, nil
			back, _, err := store.Dashboard(ctx, db, q)
			if err != nil {
				t.Fatal(err)
			}
			log.record(store.DashboardStatement(q))
			checkPlans(t, db.DB, log, fmt.Sprintf("dashboard %s q=%q previous page", section, search), pageSize+1)
			if len(back) != len(cards)-1 || (len(back) > 0 && back[0].MemberID != cards[0].MemberID) {
				t.Errorf("dashboard %s q=%q: back from the first page's last card gives %d cards, want the %d before it from the first", section, search, len(back), len(cards)-1)
			}
		}
	}

	if _, err := store.GetOrgSummary(ctx, db, bigOrg); err != nil {
		t.Fatal(err)
	}
	checkPlans(t, db.DB, log, "organization header", 1)

	// The member with the most history: an older deleted shoot, a retry and a note.
	var memberID string
	if err := base.NewRaw(`SELECT m.id FROM members m WHERE m.org_id = ? AND m.name = 'Member 00241'`, bigOrg).Scan(ctx, &memberID); err != nil {
		t.Fatal(err)
	}
	d, err := store.GetMemberDetail(ctx, db, bigOrg, memberID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Retries) != 1 || d.Retries[0].Note == nil {
		t.Fatalf("member detail: want one retry with a note, got %+v", d.Retries)
	}
	for _, st := range store.MemberDetailStatements(bigOrg, memberID) {
		log.record(st)
	}
	checkPlans(t, db.DB, log, "member detail", len(d.Shoots)+len(d.Retries)+len(d.Restarts)+1)
}
