package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// AdminSession is a signed-in browser of the admin pages.
type AdminSession struct {
	bun.BaseModel `bun:"table:admin_sessions"`

	TokenHash []byte `bun:"token_hash,pk"`
	// ID names the session in the audit log; the token and its hash are never shown.
	ID        string    `bun:"id,type:uuid"`
	KeyID     string    `bun:"key_id,type:uuid"`
	CSRFToken string    `bun:"csrf_token"`
	CreatedAt time.Time `bun:"created_at,nullzero,default:now()"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// SessionPrincipal is the principal behind a live session, with its CSRF token.
type SessionPrincipal struct {
	Principal
	SessionID string    `bun:"session_id"`
	CSRFToken string    `bun:"csrf_token"`
	ExpiresAt time.Time `bun:"expires_at"`
}

// CreateAdminSession stores a new session and drops expired ones, which keeps the table
// small without a separate sweeper. The session.sign_in audit event, naming the admin
// and the key that signed in (a.Credential), commits with it.
func CreateAdminSession(ctx context.Context, db bun.IDB, orgID string, s *AdminSession, now time.Time, a Actor) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*AdminSession)(nil)).Where("expires_at <= ?", now).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(s).Exec(ctx); err != nil {
			return err
		}
		return Audit(ctx, tx, a.Event(AuditEvent{OrgID: orgID, Action: AuditSignIn, TargetKind: "session", TargetID: s.ID, Outcome: "signed_in"}))
	})
}

// FindAdminSession resolves a session token's hash. Expired sessions, and sessions whose
// key was revoked or is not an admin key, are not found: the key is checked on every
// request, so revoking it signs its browsers out too.
func FindAdminSession(ctx context.Context, db bun.IDB, hash []byte, now time.Time) (*SessionPrincipal, error) {
	p := new(SessionPrincipal)
	err := db.NewRaw(`SELECT k.id, k.org_id, k.role, k.admin_id, s.id AS session_id, s.csrf_token, s.expires_at
		FROM admin_sessions s JOIN api_keys k ON k.id = s.key_id
		WHERE s.token_hash = ? AND s.expires_at > ? AND k.revoked_at IS NULL AND k.role = 'admin'`,
		hash, now).Scan(ctx, p)
	if err != nil {
		return nil, notFound(err, "session")
	}
	return p, nil
}

// DeleteAdminSession ends a session (sign-out) and writes its session.sign_out audit
// event. A session already gone (signed out in another tab) writes none.
func DeleteAdminSession(ctx context.Context, db bun.IDB, orgID string, hash []byte, a Actor) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var ids []string
		if err := tx.NewDelete().Model((*AdminSession)(nil)).Where("token_hash = ?", hash).Returning("id").Scan(ctx, &ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		return Audit(ctx, tx, a.Event(AuditEvent{OrgID: orgID, Action: AuditSignOut, TargetKind: "session", TargetID: ids[0], Outcome: "signed_out"}))
	})
}
