package store

import (
	"context"
	"database/sql"
	"errors"

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

// SaveIdempotentResponse keeps the first answer to an Idempotency-Key; a concurrent
// first writer wins and later replays read its answer.
func SaveIdempotentResponse(ctx context.Context, db bun.IDB, k *IdempotencyKey) error {
	_, err := db.NewInsert().Model(k).On("CONFLICT (org_id, key) DO NOTHING").Exec(ctx)
	return err
}

// GetIdempotentResponse reads a stored answer, or nil.
func GetIdempotentResponse(ctx context.Context, db bun.IDB, orgID, key string) (*IdempotencyKey, error) {
	k := new(IdempotencyKey)
	err := db.NewSelect().Model(k).Where("org_id = ? AND key = ?", orgID, key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}
