package store

import (
	"context"
	"database/sql"
	"errors"
	neturl "net/url"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
)

// Audit actions for webhook endpoint changes.
const (
	AuditWebhookCreate  = "webhook_endpoint.create"
	AuditWebhookUpdate  = "webhook_endpoint.update"
	AuditWebhookDelete  = "webhook_endpoint.delete"
	AuditWebhookRotate  = "webhook_endpoint.rotate_secret"
	AuditWebhookDisable = "webhook_endpoint.disable" // by the system: 410 Gone, or failing too long
	AuditWebhookReplay  = "webhook_delivery.replay"
	AuditWebhookTest    = "webhook_endpoint.test"
)

// WebhookEndpoint is one of an organization's receivers. Its secrets are read by the
// worker to sign; the API shows a secret once, when it is made.
type WebhookEndpoint struct {
	bun.BaseModel `bun:"table:webhook_endpoints"`

	ID                      string     `bun:"id,pk,type:uuid"`
	OrgID                   string     `bun:"org_id,type:uuid"`
	URL                     string     `bun:"url"`
	Description             string     `bun:"description"`
	EventTypes              []string   `bun:"event_types,array"`
	Enabled                 bool       `bun:"enabled"`
	Secret                  string     `bun:"secret"`
	PreviousSecret          *string    `bun:"previous_secret"`
	PreviousSecretExpiresAt *time.Time `bun:"previous_secret_expires_at"`
	DisabledReason          *string    `bun:"disabled_reason"`
	DisabledAt              *time.Time `bun:"disabled_at"`
	FailingSince            *time.Time `bun:"failing_since"`
	DeletedAt               *time.Time `bun:"deleted_at"`
	CreatedAt               time.Time  `bun:"created_at"`
	UpdatedAt               time.Time  `bun:"updated_at"`
}

// Secrets are the secrets that sign a delivery at now: the current one and, during a
// rotation's overlap, the one it replaced.
func (e *WebhookEndpoint) Secrets(now time.Time) []string {
	s := []string{e.Secret}
	if e.PreviousSecret != nil && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		s = append(s, *e.PreviousSecret)
	}
	return s
}

// NewWebhookEndpoint is what an admin gives to create an endpoint; URL and types are
// checked by the caller.
type NewWebhookEndpoint struct {
	// ID is the new endpoint's id; "" makes a random one. A caller derives it from an
	// Idempotency-Key so that a repeated request finds the endpoint it made.
	ID          string
	OrgID       string
	URL         string
	Description string
	EventTypes  []string
	Secret      string
	// Max bounds the organization's endpoints; 0: no bound.
	Max int
}

// ErrWebhookEndpointExists: an endpoint with the new endpoint's id exists already (a
// repeated request made it); nothing was written.
var ErrWebhookEndpointExists = errors.New("webhook endpoint exists")

// CreateWebhookEndpoint stores an endpoint, enabled, with its audit event (which never
// holds the secret). With Max, an organization holding that many endpoints is refused
// (too_many_webhook_endpoints); the organization's row is locked while counting, so
// concurrent creations cannot pass the bound together.
func CreateWebhookEndpoint(ctx context.Context, db bun.IDB, in NewWebhookEndpoint, actor Actor, now time.Time) (*WebhookEndpoint, error) {
	if in.ID == "" {
		in.ID = uuid.NewString()
	}
	e := &WebhookEndpoint{
		ID: in.ID, OrgID: in.OrgID, URL: in.URL, Description: in.Description,
		EventTypes: in.EventTypes, Enabled: true, Secret: in.Secret, CreatedAt: now, UpdatedAt: now,
	}
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if in.Max > 0 {
			// NO KEY: the lock serializes creations, not the organization's other writes
			// (every row referencing it takes a KEY SHARE lock on it).
			if _, err := tx.NewRaw(`SELECT 1 FROM organizations WHERE id = ? FOR NO KEY UPDATE`, in.OrgID).Exec(ctx); err != nil {
				return err
			}
			var n int
			if err := tx.NewRaw(`SELECT count(*) FROM webhook_endpoints WHERE org_id = ? AND deleted_at IS NULL`, in.OrgID).Scan(ctx, &n); err != nil {
				return err
			}
			if n >= in.Max {
				return problem.New(problem.TooManyWebhookEndpoints, "the organization has %d webhook endpoints, the most it may have; delete one first", n)
			}
		}
		res, err := tx.NewInsert().Model(e).On("CONFLICT (id) DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrWebhookEndpointExists
		}
		return Audit(ctx, tx, actor.Event(AuditEvent{
			OrgID: in.OrgID, Action: AuditWebhookCreate, TargetKind: "webhook_endpoint", TargetID: e.ID, Outcome: "created",
			Detail: map[string]any{"url": auditURL(e.URL), "event_types": e.EventTypes},
		}))
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ListWebhookEndpoints answers an organization's endpoints, oldest first.
func ListWebhookEndpoints(ctx context.Context, db bun.IDB, orgID string) ([]WebhookEndpoint, error) {
	var out []WebhookEndpoint
	err := db.NewSelect().Model(&out).Where("org_id = ? AND deleted_at IS NULL", orgID).Order("created_at", "id").Scan(ctx)
	return out, err
}

// GetWebhookEndpoint reads one endpoint of an organization; another organization's id
// is not found.
func GetWebhookEndpoint(ctx context.Context, db bun.IDB, orgID, id string) (*WebhookEndpoint, error) {
	e := new(WebhookEndpoint)
	if err := db.NewSelect().Model(e).Where("id = ? AND org_id = ? AND deleted_at IS NULL", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "webhook endpoint")
	}
	return e, nil
}

// WebhookEndpointPatch holds the fields an update changes; nil leaves one as it is.
type WebhookEndpointPatch struct {
	URL         *string
	Description *string
	EventTypes  []string // nil: unchanged
	Enabled     *bool
}

// UpdateWebhookEndpoint changes an endpoint. Enabling it clears why it was disabled and
// how long it had been failing: the admin says it is back. Disabling it by hand records
// the admin as the reason.
func UpdateWebhookEndpoint(ctx context.Context, db bun.IDB, orgID, id string, p WebhookEndpointPatch, actor Actor, now time.Time) (*WebhookEndpoint, error) {
	var out *WebhookEndpoint
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		e := new(WebhookEndpoint)
		if err := tx.NewSelect().Model(e).Where("id = ? AND org_id = ? AND deleted_at IS NULL", id, orgID).For("NO KEY UPDATE").Scan(ctx); err != nil {
			return notFound(err, "webhook endpoint")
		}
		changed := map[string]any{}
		if p.URL != nil && *p.URL != e.URL {
			e.URL, changed["url"] = *p.URL, auditURL(*p.URL)
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		if p.EventTypes != nil {
			e.EventTypes, changed["event_types"] = p.EventTypes, p.EventTypes
		}
		if p.Enabled != nil && *p.Enabled != e.Enabled {
			e.Enabled, changed["enabled"] = *p.Enabled, *p.Enabled
			if e.Enabled {
				e.DisabledReason, e.DisabledAt, e.FailingSince = nil, nil, nil
			} else {
				reason := domain.EndpointDisabledByAdmin
				e.DisabledReason, e.DisabledAt = &reason, &now
			}
		}
		e.UpdatedAt = now
		if _, err := tx.NewUpdate().Model(e).WherePK().Exec(ctx); err != nil {
			return err
		}
		out = e
		return Audit(ctx, tx, actor.Event(AuditEvent{
			OrgID: orgID, Action: AuditWebhookUpdate, TargetKind: "webhook_endpoint", TargetID: e.ID, Outcome: "updated", Detail: changed,
		}))
	})
	return out, err
}

// DeleteWebhookEndpoint deletes an endpoint for its organization: it is no longer
// listed or found, gets no new deliveries, and what was pending for it is canceled. The
// row stays, marked, until the purge (PurgeWebhooks): deleting it with its deliveries at
// once would hold up every change of the organization recording an event meanwhile, and
// then fail it on the deliveries' foreign key. Deliveries are canceled before the
// endpoint is marked, the order an attempt recording itself locks them in.
func DeleteWebhookEndpoint(ctx context.Context, db bun.IDB, orgID, id string, actor Actor) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewRaw(`UPDATE webhook_deliveries SET status = ? WHERE endpoint_id = ? AND org_id = ? AND status = 'pending'`,
			domain.DeliveryCanceled, id, orgID).Exec(ctx); err != nil {
			return err
		}
		var url string
		if err := tx.NewRaw(`UPDATE webhook_endpoints SET deleted_at = now(), enabled = false, updated_at = now()
			WHERE id = ? AND org_id = ? AND deleted_at IS NULL RETURNING url`, id, orgID).Scan(ctx, &url); err != nil {
			return notFound(err, "webhook endpoint")
		}
		return Audit(ctx, tx, actor.Event(AuditEvent{
			OrgID: orgID, Action: AuditWebhookDelete, TargetKind: "webhook_endpoint", TargetID: id, Outcome: "deleted",
			Detail: map[string]any{"url": auditURL(url)},
		}))
	})
}

// auditURL is an endpoint's URL as the audit log keeps it: its scheme, host and port.
// The path and query often carry the receiver's own token, and the log is kept for good
// and exported.
func auditURL(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/…"
	}
	return out
}

// RotateWebhookSecret makes secret the endpoint's signing secret; the one it replaces
// keeps signing beside it until overlapUntil. Rotating again within an overlap replaces
// only the new secret and keeps the one before it signing: that is the secret receivers
// still hold when a rotation's answer was lost and the client asked again.
func RotateWebhookSecret(ctx context.Context, db bun.IDB, orgID, id, secret string, overlapUntil time.Time, actor Actor, now time.Time) (*WebhookEndpoint, error) {
	var out *WebhookEndpoint
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		e := new(WebhookEndpoint)
		if err := tx.NewSelect().Model(e).Where("id = ? AND org_id = ? AND deleted_at IS NULL", id, orgID).For("NO KEY UPDATE").Scan(ctx); err != nil {
			return notFound(err, "webhook endpoint")
		}
		if !(e.PreviousSecret != nil && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt)) {
			old := e.Secret
			e.PreviousSecret = &old
		}
		e.Secret, e.PreviousSecretExpiresAt, e.UpdatedAt = secret, &overlapUntil, now
		if _, err := tx.NewUpdate().Model(e).Column("secret", "previous_secret", "previous_secret_expires_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return err
		}
		out = e
		return Audit(ctx, tx, actor.Event(AuditEvent{
			OrgID: orgID, Action: AuditWebhookRotate, TargetKind: "webhook_endpoint", TargetID: e.ID, Outcome: "rotated",
			Detail: map[string]any{"previous_secret_expires_at": overlapUntil.UTC()},
		}))
	})
	return out, err
}

// DisableWebhookEndpoint turns an endpoint off for reason (gone, failing), once, with a
// system audit event; the answer says whether this call did it.
func DisableWebhookEndpoint(ctx context.Context, db bun.IDB, id, reason string, now time.Time) (bool, error) {
	return disableEndpoint(ctx, db, id, reason, now, nil)
}

// DisableFailingWebhookEndpoint disables an endpoint as failing when it has failed since
// before since (a delivery's first attempt) without delivering anything. The condition
// is checked by the update itself, so an admin's re-enabling or another delivery's
// success just before wins.
func DisableFailingWebhookEndpoint(ctx context.Context, db bun.IDB, id string, since, now time.Time) (bool, error) {
	return disableEndpoint(ctx, db, id, domain.EndpointDisabledFailing, now, &since)
}

func disableEndpoint(ctx context.Context, db bun.IDB, id, reason string, now time.Time, failingBy *time.Time) (bool, error) {
	done := false
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var orgID, url string
		err := tx.NewRaw(`UPDATE webhook_endpoints SET enabled = false, disabled_reason = ?, disabled_at = ?, updated_at = ?
			WHERE id = ? AND enabled AND (?::timestamptz IS NULL OR failing_since <= ?::timestamptz)
			RETURNING org_id, url`, reason, now, now, id, failingBy, failingBy).Scan(ctx, &orgID, &url)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			return err
		}
		done = true
		return Audit(ctx, tx, AuditEvent{
			OrgID: orgID, ActorKind: ActorSystem, ActorID: "webhooks", Action: AuditWebhookDisable, TargetKind: "webhook_endpoint",
			TargetID: id, Outcome: reason, Detail: map[string]any{"url": auditURL(url), "reason": reason},
		})
	})
	return done, err
}
