package seed

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/store"
)

// Report counts the rows Load inserted; rows that already existed are not counted.
type Report struct {
	Organizations int
	Admins        int
	APIKeys       int
	Members       int
	Shoots        int
	Results       int
	// Generated lists the ids derived for rows the file gives none, in file order. They
	// are the same on every run of the same file (see ids.go); the operator may put them
	// into the file to keep them when names, emails or positions change.
	Generated []GeneratedID
}

// GeneratedID is an id Load derived for a row the file gave none.
type GeneratedID struct {
	Path string // e.g. organizations[0].members[3].id
	ID   string
}

func (r *Report) add(o Report) {
	r.Organizations += o.Organizations
	r.Admins += o.Admins
	r.APIKeys += o.APIKeys
	r.Members += o.Members
	r.Shoots += o.Shoots
	r.Results += o.Results
	r.Generated = append(r.Generated, o.Generated...)
}

// chunkSize rows per INSERT: one statement per thousand rows keeps 10,000 members with
// 80,000 results at about a hundred round trips, while each statement stays a few
// hundred kilobytes.
const chunkSize = 1000

// Load inserts the file's rows, one transaction per organization. Rows whose ids already
// exist are left as they are (and their shoots get no new results), and ids the file
// leaves out are derived from the file, not random, so loading the same file twice
// changes nothing. An id that exists but belongs elsewhere (a member of another
// organization, a shoot of another member, a key of another organization) is an error,
// because going on would mix two organizations' data. On error the Report counts the
// organizations committed before it.
func Load(ctx context.Context, db bun.IDB, f *File) (Report, error) {
	var rep Report
	if f == nil {
		return rep, fmt.Errorf("seed: no file")
	}
	if err := f.Validate(); err != nil {
		return rep, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond) // Postgres keeps microseconds
	for i := range f.Organizations {
		o := &f.Organizations[i]
		path := fmt.Sprintf("organizations[%d]", i)
		var orgRep Report
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			orgRep = Report{}
			return loadOrg(ctx, tx, path, o, now, &orgRep)
		})
		if err != nil {
			return rep, fmt.Errorf("seed %s (%s): %w", path, o.Name, err)
		}
		rep.add(orgRep)
	}
	if err := analyze(ctx, db, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// analyzedTables are the tables a load fills, and the tables their triggers fill.
var analyzedTables = []string{"organizations", "admins", "api_keys", "members", "shoots", "results",
	"dashboard_cards", "org_counters"}

// analyze refreshes the planner's statistics after a load that inserted rows, as
// Postgres advises after a bulk load: without them (a cluster with autovacuum off, or
// queries in the minute before autovacuum comes by) the planner guesses, and the same
// dashboard query that reads one page on analyzed tables can read whole tables.
func analyze(ctx context.Context, db bun.IDB, rep Report) error {
	if rep.Organizations+rep.Admins+rep.APIKeys+rep.Members+rep.Shoots+rep.Results == 0 {
		return nil
	}
	if _, err := db.ExecContext(ctx, "ANALYZE "+strings.Join(analyzedTables, ", ")); err != nil {
		return fmt.Errorf("seed: analyze: %w", err)
	}
	return nil
}

func loadOrg(ctx context.Context, tx bun.Tx, path string, o *Organization, now time.Time, rep *Report) error {
	idOf := func(id, p string, derive func() string) string {
		if id != "" {
			return uuid.MustParse(id).String() // Validate accepted it; Postgres prints lower case
		}
		g := derive()
		rep.Generated = append(rep.Generated, GeneratedID{Path: p + ".id", ID: g})
		return g
	}

	orgID := idOf(o.ID, path, func() string { return derivedOrgID(o.Name) })
	orgs := []store.Organization{{ID: orgID, Name: o.Name, CreditBalance: o.CreditBalance, CreatedAt: now}}
	inserted, err := insert(ctx, tx, orgs, "CONFLICT (id) DO NOTHING")
	if err != nil {
		return fmt.Errorf("insert organization: %w", err)
	}
	rep.Organizations = len(inserted)

	admins := make([]store.Admin, len(o.Admins))
	adminPaths := make([]string, len(o.Admins))
	var keys []store.APIKey
	var keyPaths []string
	for i, a := range o.Admins {
		adminPaths[i] = fmt.Sprintf("%s.admins[%d]", path, i)
		adminID := idOf(a.ID, adminPaths[i], func() string { return derivedAdminID(orgID, a.Email) })
		admins[i] = store.Admin{ID: adminID, OrgID: orgID, Email: a.Email, Name: a.Name, Role: a.Role, CreatedAt: now}
		if a.APIKey != "" {
			keys = append(keys, newKey(orgID, "admin", &adminID, a.APIKey, now))
			keyPaths = append(keyPaths, adminPaths[i]+".api_key")
		}
	}
	for i, k := range o.AutomationKeys {
		keys = append(keys, newKey(orgID, "automation", nil, k, now))
		keyPaths = append(keyPaths, fmt.Sprintf("%s.automation_keys[%d]", path, i))
	}

	members := make([]store.Member, len(o.Members))
	memberPaths := make([]string, len(o.Members))
	var shoots []store.Shoot
	var shootPaths []string
	var shootResults []int
	for i := range o.Members {
		m := &o.Members[i]
		memberPaths[i] = fmt.Sprintf("%s.members[%d]", path, i)
		memberID := idOf(m.ID, memberPaths[i], func() string { return derivedMemberID(orgID, m, i) })
		created := shootCreatedAt(m.Shoots, now)
		memberCreated := now
		if len(created) > 0 {
			memberCreated = created[0].Add(-24 * time.Hour) // members join before their first shoot
		}
		members[i] = store.Member{
			ID: memberID, OrgID: orgID, Name: m.Name, Email: m.Email, Kind: m.Kind,
			RetryCredits:       m.RetryCredits,
			FreeRetryAvailable: m.FreeRetryAvailable == nil || *m.FreeRetryAvailable,
			CreatedAt:          memberCreated,
		}
		for j, s := range m.Shoots {
			sp := fmt.Sprintf("%s.shoots[%d]", memberPaths[i], j)
			shoots = append(shoots, store.Shoot{
				ID: idOf(s.ID, sp, func() string { return derivedShootID(memberID, j) }), OrgID: orgID, MemberID: memberID, Status: s.Status,
				CompletedAt: utc(s.CompletedAt), DeletedAt: utc(s.DeletedAt), RetryCount: s.RetryCount,
				CreatedAt: created[j], UpdatedAt: lastChange(s, created[j]),
			})
			shootPaths = append(shootPaths, sp)
			shootResults = append(shootResults, s.Results)
		}
	}

	inserted, err = insert(ctx, tx, admins, "CONFLICT (id) DO NOTHING")
	if err != nil {
		return fmt.Errorf("insert admins: %w", err)
	}
	rep.Admins = len(inserted)
	if err := checkOwned(ctx, tx, admins, inserted, adminPaths, "admins", "org_id = ?", orgID); err != nil {
		return err
	}

	if len(keys) > 0 {
		var n int
		// The hash is the conflict target: a key already stored (by an earlier run, or
		// issued since) stays as it is, with its revocation and creation date.
		res, err := tx.NewInsert().Model(&keys).On("CONFLICT (key_hash) DO NOTHING").Returning("NULL").Exec(ctx)
		if err != nil {
			return fmt.Errorf("insert api keys: %w", err)
		}
		if a, err := res.RowsAffected(); err == nil {
			n = int(a)
		}
		rep.APIKeys = n
		if n < len(keys) {
			if err := checkKeysOwned(ctx, tx, keys, keyPaths, orgID); err != nil {
				return err
			}
		}
	}

	inserted, err = insert(ctx, tx, members, "CONFLICT (id) DO NOTHING")
	if err != nil {
		return fmt.Errorf("insert members: %w", err)
	}
	rep.Members = len(inserted)
	if err := checkOwned(ctx, tx, members, inserted, memberPaths, "members", "org_id = ?", orgID); err != nil {
		return err
	}

	inserted, err = insert(ctx, tx, shoots, "CONFLICT (id) DO NOTHING")
	if err != nil {
		return fmt.Errorf("insert shoots: %w", err)
	}
	rep.Shoots = len(inserted)
	if err := checkShootsOwned(ctx, tx, shoots, inserted, shootPaths, orgID); err != nil {
		return err
	}

	// Results only for shoots inserted now: an existing shoot's results are whatever the
	// service made of them (a retry deletes them), and a second run must add none.
	var results []store.Result
	for i, s := range shoots {
		if !inserted[s.ID] {
			continue
		}
		at := s.CreatedAt
		if s.CompletedAt != nil {
			at = *s.CompletedAt
		}
		for n := 1; n <= shootResults[i]; n++ {
			results = append(results, store.Result{
				ID: uuid.NewString(), ShootID: s.ID,
				StorageKey: fmt.Sprintf("results/%s/%d.jpg", s.ID, n), CreatedAt: at,
			})
		}
	}
	for start := 0; start < len(results); start += chunkSize {
		chunk := results[start:min(start+chunkSize, len(results))]
		if _, err := tx.NewInsert().Model(&chunk).Returning("NULL").Exec(ctx); err != nil {
			return fmt.Errorf("insert results: %w", err)
		}
	}
	rep.Results = len(results)
	return nil
}

// idRow is what insert needs of a model: its primary key.
type idRow interface {
	store.Organization | store.Admin | store.Member | store.Shoot
}

func rowID[T idRow](r *T) string {
	switch r := any(r).(type) {
	case *store.Organization:
		return r.ID
	case *store.Admin:
		return r.ID
	case *store.Member:
		return r.ID
	case *store.Shoot:
		return r.ID
	}
	panic("unreachable")
}

// insert writes rows in multi-row statements and returns the ids actually inserted.
// RETURNING goes into a separate slice: with DO NOTHING, Postgres returns fewer rows
// than were sent, and bun would scan them into the wrong elements of the model slice.
func insert[T idRow](ctx context.Context, tx bun.Tx, rows []T, on string) (map[string]bool, error) {
	inserted := make(map[string]bool, len(rows))
	for start := 0; start < len(rows); start += chunkSize {
		chunk := rows[start:min(start+chunkSize, len(rows))]
		var ids []string
		if _, err := tx.NewInsert().Model(&chunk).On(on).Returning("id").Exec(ctx, &ids); err != nil {
			return nil, err
		}
		for _, id := range ids {
			inserted[id] = true
		}
	}
	return inserted, nil
}

// checkOwned fails when a row the file names already exists but belongs elsewhere.
// Only rows that were not inserted now are looked up, so a fresh load pays nothing.
func checkOwned[T idRow](ctx context.Context, tx bun.Tx, rows []T, inserted map[string]bool, paths []string, table, owned string, args ...any) error {
	var existing []string
	pathOf := map[string]string{}
	for i := range rows {
		id := rowID(&rows[i])
		if !inserted[id] {
			existing = append(existing, id)
			pathOf[id] = paths[i]
		}
	}
	if len(existing) == 0 {
		return nil
	}
	var foreign []string
	err := tx.NewSelect().Table(table).Column("id").
		Where("id IN (?)", bun.List(existing)).
		Where("NOT ("+owned+")", args...).
		OrderExpr("id").Limit(1).
		Scan(ctx, &foreign)
	if err != nil {
		return fmt.Errorf("check existing %s: %w", table, err)
	}
	if len(foreign) > 0 {
		return &ValidationError{Path: pathOf[foreign[0]] + ".id", Message: fmt.Sprintf("%s already exists in another organization", foreign[0])}
	}
	return nil
}

func checkShootsOwned(ctx context.Context, tx bun.Tx, shoots []store.Shoot, inserted map[string]bool, paths []string, orgID string) error {
	var existing []store.Shoot
	idx := map[string]int{}
	for i, s := range shoots {
		if !inserted[s.ID] {
			existing = append(existing, s)
			idx[s.ID] = i
		}
	}
	if len(existing) == 0 {
		return nil
	}
	for start := 0; start < len(existing); start += chunkSize {
		chunk := existing[start:min(start+chunkSize, len(existing))]
		var stored []store.Shoot
		ids := make([]string, len(chunk))
		for i, s := range chunk {
			ids[i] = s.ID
		}
		if err := tx.NewSelect().Model(&stored).Column("id", "org_id", "member_id").
			Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
			return fmt.Errorf("check existing shoots: %w", err)
		}
		for _, st := range stored {
			want := shoots[idx[st.ID]]
			if st.OrgID != orgID || st.MemberID != want.MemberID {
				return &ValidationError{Path: paths[idx[st.ID]] + ".id", Message: fmt.Sprintf("%s already exists as a shoot of another member", st.ID)}
			}
		}
	}
	return nil
}

func checkKeysOwned(ctx context.Context, tx bun.Tx, keys []store.APIKey, paths []string, orgID string) error {
	hashes := make([][]byte, len(keys))
	for i, k := range keys {
		hashes[i] = k.KeyHash
	}
	var foreign [][]byte
	err := tx.NewSelect().Table("api_keys").Column("key_hash").
		Where("key_hash IN (?)", bun.List(hashes)).
		Where("org_id <> ?", orgID).
		Scan(ctx, &foreign)
	if err != nil {
		return fmt.Errorf("check existing api keys: %w", err)
	}
	for _, h := range foreign {
		for i, k := range keys {
			if string(k.KeyHash) == string(h) {
				return &ValidationError{Path: paths[i], Message: "this key already belongs to another organization"}
			}
		}
	}
	return nil
}

func newKey(orgID, role string, adminID *string, secret string, now time.Time) store.APIKey {
	return store.APIKey{
		ID: uuid.NewString(), OrgID: orgID, Role: role, AdminID: adminID,
		KeyHash: apikey.Hash(secret), Prefix: apikey.Display(secret), CreatedAt: now,
	}
}

// shootCreatedAt gives a member's shoots creation times in file order, because the
// dashboard takes the member's most recent shoot by created_at: the last shoot listed is
// the most recent. Each shoot is also created before it was completed or deleted (an
// hour before, a plausible shoot length), so the data reads like real history.
func shootCreatedAt(shoots []Shoot, now time.Time) []time.Time {
	out := make([]time.Time, len(shoots))
	next := now.Add(time.Hour) // nothing bounds the last shoot from above but its own times
	for i := len(shoots) - 1; i >= 0; i-- {
		c := now
		for _, t := range []*time.Time{shoots[i].CompletedAt, shoots[i].DeletedAt} {
			if t != nil && t.Before(c) {
				c = *t
			}
		}
		c = c.Add(-time.Hour).UTC()
		if !c.Before(next) {
			c = next.Add(-time.Minute)
		}
		out[i] = c
		next = c
	}
	return out
}

func lastChange(s Shoot, created time.Time) time.Time {
	last := created
	for _, t := range []*time.Time{s.CompletedAt, s.DeletedAt} {
		if t != nil && t.After(last) {
			last = t.UTC()
		}
	}
	return last
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
