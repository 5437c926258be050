package store

import (
	"context"

	"github.com/uptrace/bun"
)

// Principal is the organization and role behind an API key.
type Principal struct {
	KeyID   string  `bun:"id"`
	OrgID   string  `bun:"org_id"`
	Role    string  `bun:"role"`
	AdminID *string `bun:"admin_id"`
}

// FindAPIKey resolves a key's hash to its principal; revoked keys are not found.
func FindAPIKey(ctx context.Context, db bun.IDB, hash []byte) (*Principal, error) {
	p := new(Principal)
	err := db.NewSelect().Model((*APIKey)(nil)).
		Column("id", "org_id", "role", "admin_id").
		Where("key_hash = ? AND revoked_at IS NULL", hash).
		Limit(1).Scan(ctx, p)
	if err != nil {
		return nil, notFound(err, "api key")
	}
	return p, nil
}
