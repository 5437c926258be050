package store

import (
	"context"

	"github.com/uptrace/bun"
)

// OrgHeader is what every admin page shows of the organization.
type OrgHeader struct {
	ID            string `bun:"id"`
	Name          string `bun:"name"`
	CreditBalance int    `bun:"credit_balance"`
	// Members is filled by the dashboard only (CountSections); other pages leave it 0.
	Members int `bun:"-"`
}

// GetOrgHeader reads the organization's name and credit balance: one primary-key row,
// unlike GetOrgSummary, whose counts scan the organization.
func GetOrgHeader(ctx context.Context, db bun.IDB, orgID string) (*OrgHeader, error) {
	h := new(OrgHeader)
	err := db.NewRaw(`SELECT id, name, credit_balance FROM organizations WHERE id = ?`, orgID).Scan(ctx, h)
	if err != nil {
		return nil, notFound(err, "organization")
	}
	return h, nil
}

// SectionCounts are the dashboard's counts: members by section, and all members.
type SectionCounts struct {
	BySection map[string]int
	Members   int
}

// CountSections counts an organization's members by dashboard section, among those
// matching search when it is set, and all of the organization's members. The sections
// come from dashboard_cards through its (org_id, section, ...) index, so the count reads
// the organization's index entries and never another organization's rows or any shoot;
// the member total is the kept counter.
func CountSections(ctx context.Context, db bun.IDB, orgID, search string) (*SectionCounts, error) {
	var rows []struct {
		Section string `bun:"section"`
		Count   int    `bun:"count"`
	}
	q := db.NewSelect().TableExpr("dashboard_cards AS c").
		ColumnExpr("c.section, count(*) AS count").
		Where("c.org_id = ?", orgID).GroupExpr("c.section")
	if search != "" {
		like := "%" + escapeLike(search) + "%"
		q = q.Where("c.search LIKE lower(?)", like).Where("(c.name ILIKE ? OR c.email ILIKE ?)", like, like)
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := &SectionCounts{BySection: map[string]int{}}
	for _, r := range rows {
		out.BySection[r.Section] = r.Count
	}
	err := db.NewRaw(`SELECT coalesce((SELECT members FROM org_counters WHERE org_id = ?), 0)`, orgID).Scan(ctx, &out.Members)
	return out, err
}

// AdminNames maps the organization's admin ids to their names, for "issued by" columns.
func AdminNames(ctx context.Context, db bun.IDB, orgID string) (map[string]string, error) {
	var admins []Admin
	if err := db.NewSelect().Model(&admins).Column("id", "name", "email").Where("org_id = ?", orgID).Scan(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(admins))
	for _, a := range admins {
		name := a.Name
		if name == "" {
			name = a.Email
		}
		out[a.ID] = name
	}
	return out, nil
}
