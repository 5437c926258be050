package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// Card is one member on the dashboard with their most recent shoot.
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
	HasOpenShoot       bool       `bun:"has_open_shoot"`
	HasDeletedShoot    bool       `bun:"has_deleted_shoot"`
}

// DashboardQuery selects one page of one section.
type DashboardQuery struct {
	OrgID    string
	Statuses []string
	Search   string
	After    *Cursor
	Limit    int
}

// Cursor is the keyset position: the last card's member name and id.
type Cursor struct {
	Name string `json:"n"`
	ID   string `json:"i"`
}

// Dashboard answers a page of cards ordered by member name then id, and whether more follow.
func Dashboard(ctx context.Context, db bun.IDB, q DashboardQuery) ([]Card, bool, error) {
	sel := db.NewSelect().
		TableExpr("members AS m").
		ColumnExpr("m.id AS member_id, m.name, m.email, m.kind, m.retry_credits, m.free_retry_available").
		ColumnExpr("s.id AS shoot_id, s.status, s.completed_at, s.deleted_at, s.retry_count").
		ColumnExpr("(SELECT count(*) FROM results r WHERE r.shoot_id = s.id) AS result_count").
		ColumnExpr("EXISTS (SELECT 1 FROM retries rt WHERE rt.member_id = m.id AND rt.status = 'pending') AS pending_retry").
		ColumnExpr("EXISTS (SELECT 1 FROM shoots o WHERE o.member_id = m.id AND o.status <> 'deleted') AS has_open_shoot").
		ColumnExpr("EXISTS (SELECT 1 FROM shoots d WHERE d.member_id = m.id AND d.status = 'deleted') AS has_deleted_shoot").
		Join(`JOIN LATERAL (SELECT * FROM shoots WHERE shoots.member_id = m.id
			ORDER BY shoots.created_at DESC, shoots.id DESC LIMIT 1) AS s ON true`).
		Where("m.org_id = ?", q.OrgID).
		Where("s.status IN (?)", bun.List(q.Statuses)).
		OrderExpr("m.name, m.id").
		Limit(int64(q.Limit) + 1)
	if q.Search != "" {
		like := "%" + escapeLike(q.Search) + "%"
		sel = sel.Where("(m.name ILIKE ? OR m.email ILIKE ?)", like, like)
	}
	if q.After != nil {
		sel = sel.Where("(m.name, m.id) > (?, ?::uuid)", q.After.Name, q.After.ID)
	}
	var cards []Card
	if err := sel.Scan(ctx, &cards); err != nil {
		return nil, false, err
	}
	more := len(cards) > q.Limit
	if more {
		cards = cards[:q.Limit]
	}
	return cards, more, nil
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

// GetOrgSummary counts members and finished (active) shoots of an organization.
func GetOrgSummary(ctx context.Context, db bun.IDB, orgID string) (*OrgSummary, error) {
	s := new(OrgSummary)
	err := db.NewRaw(`SELECT o.id, o.name, o.credit_balance,
		(SELECT count(*) FROM members m WHERE m.org_id = o.id) AS members,
		(SELECT count(*) FROM shoots s WHERE s.org_id = o.id AND s.status = 'active') AS finished_shoots
		FROM organizations o WHERE o.id = ?`, orgID).Scan(ctx, s)
	if err != nil {
		return nil, notFound(err, "organization")
	}
	return s, nil
}

// ShootWithCount is a shoot and how many results it has.
type ShootWithCount struct {
	Shoot       `bun:",extend"`
	ResultCount int `bun:"result_count,scanonly"`
}

// MemberDetail is everything the member page shows.
type MemberDetail struct {
	Member   *Member
	Shoots   []ShootWithCount
	Retries  []Retry
	Restarts []Restart
}

// GetMember reads a member of the organization.
func GetMember(ctx context.Context, db bun.IDB, orgID, memberID string) (*Member, error) {
	m := new(Member)
	if err := db.NewSelect().Model(m).Where("id = ? AND org_id = ?", memberID, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "member")
	}
	return m, nil
}

// GetMemberDetail reads a member with shoots, retries and restarts, newest first.
func GetMemberDetail(ctx context.Context, db bun.IDB, orgID, memberID string) (*MemberDetail, error) {
	m, err := GetMember(ctx, db, orgID, memberID)
	if err != nil {
		return nil, err
	}
	d := &MemberDetail{Member: m}
	if err := db.NewSelect().Model(&d.Shoots).
		ColumnExpr("shoot.*").
		ColumnExpr("(SELECT count(*) FROM results r WHERE r.shoot_id = shoot.id) AS result_count").
		Where("shoot.member_id = ?", memberID).
		OrderExpr("shoot.created_at DESC, shoot.id DESC").Scan(ctx); err != nil {
		return nil, err
	}
	if err := db.NewSelect().Model(&d.Retries).ModelTableExpr("retries AS r").
		ColumnExpr("r.*").ColumnExpr("n.note").
		Join("LEFT JOIN retry_notes AS n ON n.retry_id = r.id").
		Where("r.member_id = ?", memberID).
		OrderExpr("r.issued_at DESC, r.id DESC").Scan(ctx); err != nil {
		return nil, err
	}
	if err := db.NewSelect().Model(&d.Restarts).
		Where("member_id = ?", memberID).
		OrderExpr("issued_at DESC, id DESC").Scan(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// PendingRetry is the member's pending retry, if any.
func (d *MemberDetail) PendingRetry() *Retry {
	for i := range d.Retries {
		if d.Retries[i].Status == StatusPending {
			return &d.Retries[i]
		}
	}
	return nil
}

// CountPending counts pending retries and restarts across organizations (the metrics
// gauge); the partial indexes on status = 'pending' keep it cheap.
func CountPending(ctx context.Context, db bun.IDB) (retries, restarts int, err error) {
	err = db.NewRaw(`SELECT (SELECT count(*) FROM retries WHERE status = 'pending'),
		(SELECT count(*) FROM restarts WHERE status = 'pending')`).Scan(ctx, &retries, &restarts)
	return retries, restarts, err
}
