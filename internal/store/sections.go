package store

import (
	"context"

	"github.com/uptrace/bun"
)

// SectionCount is how many members have a most recent shoot in status Status.
type SectionCount struct {
	Status string `bun:"status"`
	Count  int    `bun:"count"`
}

// CountByLatestStatus counts an organization's members by the status of their most
// recent shoot (the dashboard's sections), optionally among those matching search. It is
// one probe of the shoots index per member, so it grows with the organization but never
// touches other organizations' rows.
func CountByLatestStatus(ctx context.Context, db bun.IDB, orgID, search string) ([]SectionCount, error) {
	sel := db.NewSelect().
		TableExpr("members AS m").
		ColumnExpr("s.status, count(*) AS count").
		Join(`JOIN LATERAL (SELECT shoots.status FROM shoots WHERE shoots.member_id = m.id
			ORDER BY shoots.created_at DESC, shoots.id DESC LIMIT 1) AS s ON true`).
		Where("m.org_id = ?", orgID).
		GroupExpr("s.status")
	if search != "" {
		like := "%" + escapeLike(search) + "%"
		sel = sel.Where("(m.name ILIKE ? OR m.email ILIKE ?)", like, like)
	}
	var out []SectionCount
	if err := sel.Scan(ctx, &out); err != nil {
		return nil, err
	}
	return out, nil
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
