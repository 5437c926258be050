package store

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
)

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

// PendingRetry is the member's pending retry, if any.
func (d *MemberDetail) PendingRetry() *Retry {
	for i := range d.Retries {
		if d.Retries[i].Status == domain.StatusPending {
			return &d.Retries[i]
		}
	}
	return nil
}

// MemberNames maps the ids, among memberIDs, of the organization's members to their
// names, in one read; ids of no member of the organization are left out. The ids must be
// UUIDs.
func MemberNames(ctx context.Context, db bun.IDB, orgID string, memberIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(memberIDs))
	if len(memberIDs) == 0 {
		return out, nil
	}
	var rows []Member
	if err := db.NewSelect().Model(&rows).Column("id", "name").
		Where("org_id = ? AND id IN (?)", orgID, bun.List(memberIDs)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, m := range rows {
		out[m.ID] = m.Name
	}
	return out, nil
}
