package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// AdminSession is a signed-in browser of the admin pages.
type AdminSession struct {
	bun.BaseModel `bun:"table:admin_sessions"`

	TokenHash []byte    `bun:"token_hash,pk"`
	KeyID     string    `bun:"key_id,type:uuid"`
	CSRFToken string    `bun:"csrf_token"`
	CreatedAt time.Time `bun:"created_at,nullzero,default:now()"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// SessionPrincipal is the principal behind a live session, with its CSRF token.
type SessionPrincipal struct {
	Principal
	CSRFToken string    `bun:"csrf_token"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// CreateAdminSession stores a new session and drops expired ones, which keeps the table
// small without a separate sweeper.
func CreateAdminSession(ctx context.Context, db bun.IDB, s *AdminSession, now time.Time) error {
	if _, err := db.NewDelete().Model((*AdminSession)(nil)).Where("expires_at <= ?", now).Exec(ctx); err != nil {
		return err
	}
	_, err := db.NewInsert().Model(s).Exec(ctx)
	return err
}

// FindAdminSession resolves a session token's hash. Expired sessions, and sessions whose
// key was revoked or is not an admin key, are not found: the key is checked on every
// request, so revoking it signs its browsers out too.
func FindAdminSession(ctx context.Context, db bun.IDB, hash []byte, now time.Time) (*SessionPrincipal, error) {
	p := new(SessionPrincipal)
	err := db.NewRaw(`SELECT k.id, k.org_id, k.role, k.admin_id, s.csrf_token, s.expires_at
		FROM admin_sessions s JOIN api_keys k ON k.id = s.key_id
		WHERE s.token_hash = ? AND s.expires_at > ? AND k.revoked_at IS NULL AND k.role = 'admin'`,
		hash, now).Scan(ctx, p)
	if err != nil {
		return nil, notFound(err, "session")
	}
	return p, nil
}

// DeleteAdminSession ends a session (sign-out).
func DeleteAdminSession(ctx context.Context, db bun.IDB, hash []byte) error {
	_, err := db.NewDelete().Model((*AdminSession)(nil)).Where("token_hash = ?", hash).Exec(ctx)
	return err
}
