package store

import (
	"context"
	"database/sql"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// MemberCard is one member's dashboard card, read by the dashboard's own statement: the
// page after a change shows the changed member's card wherever it now is. NotFound when
// the member has no card in the organization (no shoot, or another organization's).
func MemberCard(ctx context.Context, db *bun.DB, orgID, memberID string) (*Card, error) {
	id, err := uuid.Parse(memberID)
	if err != nil {
		return nil, notFound(sql.ErrNoRows, "card")
	}
	var at struct {
		Section string `bun:"section"`
		Name    string `bun:"name"`
	}
	if err := db.NewRaw(`SELECT section, name FROM dashboard_cards WHERE org_id = ? AND member_id = ?`, orgID, id.String()).Scan(ctx, &at); err != nil {
		return nil, notFound(err, "card")
	}
	// A page of one that starts just before the member in the keyset order (their name,
	// and the id one below theirs) holds their card.
	cards, _, err := Dashboard(ctx, db, DashboardQuery{
		OrgID: orgID, Section: at.Section, After: &Cursor{Name: at.Name, ID: uuidBefore(id).String()}, Limit: 1,
	})
	if err != nil {
		return nil, err
	}
	if len(cards) == 0 || cards[0].MemberID != id.String() {
		// The card moved between the two reads (a rename, another change): not shown.
		return nil, notFound(sql.ErrNoRows, "card")
	}
	return &cards[0], nil
}

// uuidBefore is the id just below id in Postgres's order of uuids (their bytes, as one
// big-endian number).
func uuidBefore(id uuid.UUID) uuid.UUID {
	for i := len(id) - 1; i >= 0; i-- {
		id[i]--
		if id[i] != 0xff {
			break
		}
	}
	return id
}
