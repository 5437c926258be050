package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/problem"
)

// API key roles (docs/product.md, section 2): an admin key acts as one admin of its
// organization; an automation key acts as the organization's integration.
const (
	APIKeyRoleAdmin      = "admin"
	APIKeyRoleAutomation = "automation"
)

// Audit actions for API key changes.
const (
	AuditAPIKeyCreate = "api_key.create"
	AuditAPIKeyRevoke = "api_key.revoke"
)

// CreatedKey describes a key just created. The secret is returned beside it, once.
type CreatedKey struct {
	ID        string
	OrgID     string
	Role      string
	AdminID   *string
	Prefix    string
	CreatedAt time.Time
}

// KeyInfo describes a stored key; it never carries the secret or its hash.
type KeyInfo struct {
	ID        string     `bun:"id"`
	OrgID     string     `bun:"org_id"`
	Role      string     `bun:"role"`
	AdminID   *string    `bun:"admin_id"`
	Prefix    string     `bun:"prefix"`
	CreatedAt time.Time  `bun:"created_at"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

// CreateAPIKey makes a key for an organization and returns its secret, which is not
// stored and cannot be recovered. An admin key needs adminID, an admin of that
// organization; an automation key takes no admin. The key and its audit event
// (api_key.create, which never holds the secret) commit together.
func CreateAPIKey(ctx context.Context, db bun.IDB, orgID, role string, adminID *string, actor Actor) (string, *CreatedKey, error) {
	orgID, err := parseKeyUUID(orgID, "organization id")
	if err != nil {
		return "", nil, err
	}
	switch role {
	case APIKeyRoleAdmin:
		if adminID == nil || *adminID == "" {
			return "", nil, problem.New(problem.InvalidParameter, "an admin key needs the id of the admin it acts as")
		}
		id, err := parseKeyUUID(*adminID, "admin id")
		if err != nil {
			return "", nil, err
		}
		adminID = &id
	case APIKeyRoleAutomation:
		if adminID != nil {
			return "", nil, problem.New(problem.InvalidParameter, "an automation key acts for the organization, not for an admin: give no admin id")
		}
	default:
		return "", nil, problem.New(problem.InvalidParameter, "role must be %q or %q, not %q", APIKeyRoleAdmin, APIKeyRoleAutomation, role)
	}

	secret, prefix, hash := apikey.Generate()
	k := &APIKey{ID: uuid.NewString(), OrgID: orgID, Role: role, AdminID: adminID, KeyHash: hash, Prefix: prefix}
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := keyOrgExists(ctx, tx, orgID); err != nil {
			return err
		}
		if adminID != nil {
			var adminOrg string
			err := tx.NewSelect().Model((*Admin)(nil)).Column("org_id").Where("id = ?", *adminID).Scan(ctx, &adminOrg)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && adminOrg != orgID) {
				return problem.New(problem.NotFound, "admin %s not found in organization %s", *adminID, orgID)
			}
			if err != nil {
				return fmt.Errorf("load admin: %w", err)
			}
		}
		if _, err := tx.NewInsert().Model(k).Returning("created_at").Exec(ctx); err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		detail := map[string]any{"role": role, "prefix": prefix}
		if adminID != nil {
			detail["admin_id"] = *adminID
		}
		return Audit(ctx, tx, actor.Event(AuditEvent{
			OrgID: orgID, Action: AuditAPIKeyCreate, TargetKind: "api_key", TargetID: k.ID, Outcome: "created",
			Detail: detail,
		}))
	})
	if err != nil {
		return "", nil, err
	}
	return secret, &CreatedKey{
		ID: k.ID, OrgID: k.OrgID, Role: k.Role, AdminID: k.AdminID, Prefix: k.Prefix, CreatedAt: k.CreatedAt,
	}, nil
}

// ListAPIKeys lists an organization's keys, newest first, revoked ones included.
func ListAPIKeys(ctx context.Context, db bun.IDB, orgID string) ([]KeyInfo, error) {
	orgID, err := parseKeyUUID(orgID, "organization id")
	if err != nil {
		return nil, err
	}
	if err := keyOrgExists(ctx, db, orgID); err != nil {
		return nil, err
	}
	keys := []KeyInfo{}
	err = db.NewSelect().Model((*APIKey)(nil)).
		Column("id", "org_id", "role", "admin_id", "prefix", "created_at", "revoked_at").
		Where("org_id = ?", orgID).
		OrderExpr("created_at DESC, id DESC").
		Scan(ctx, &keys)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// RevokeAPIKey marks a key revoked so it no longer authenticates, and writes the
// api_key.revoke audit event in the same transaction. Revoking a revoked key changes
// nothing and writes no second event: it returns the key as it is.
func RevokeAPIKey(ctx context.Context, db bun.IDB, keyID string, actor Actor) (*KeyInfo, error) {
	keyID, err := parseKeyUUID(keyID, "api key id")
	if err != nil {
		return nil, err
	}
	out := new(KeyInfo)
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		k := new(APIKey)
		if err := tx.NewSelect().Model(k).Where("id = ?", keyID).For("UPDATE").Scan(ctx); err != nil {
			return notFound(err, "api key "+keyID)
		}
		if k.RevokedAt == nil {
			_, err := tx.NewUpdate().Model(k).Set("revoked_at = now()").WherePK().Returning("revoked_at").Exec(ctx)
			if err != nil {
				return fmt.Errorf("revoke api key: %w", err)
			}
			if err := Audit(ctx, tx, actor.Event(AuditEvent{
				OrgID: k.OrgID, Action: AuditAPIKeyRevoke, TargetKind: "api_key", TargetID: k.ID, Outcome: "revoked",
				Detail: map[string]any{"role": k.Role, "prefix": k.Prefix},
			})); err != nil {
				return err
			}
		}
		*out = KeyInfo{
			ID: k.ID, OrgID: k.OrgID, Role: k.Role, AdminID: k.AdminID, Prefix: k.Prefix,
			CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt,
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseKeyUUID checks that s is a UUID and returns it in Postgres's canonical form.
func parseKeyUUID(s, what string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return "", problem.New(problem.InvalidParameter, "%s %q is not a UUID", what, s)
	}
	return u.String(), nil
}

func keyOrgExists(ctx context.Context, db bun.IDB, orgID string) error {
	ok, err := db.NewSelect().Model((*Organization)(nil)).Where("id = ?", orgID).Exists(ctx)
	if err != nil {
		return fmt.Errorf("load organization: %w", err)
	}
	if !ok {
		return problem.New(problem.NotFound, "organization %s not found", orgID)
	}
	return nil
}
