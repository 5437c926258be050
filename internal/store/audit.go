package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// Audit actions: what an event records. The API documents each (openapi.json's
// AuditAction); AuditActions lists them for its filter.
const (
	AuditRetryGive    = "retry.give"
	AuditRetryResend  = "retry.resend_email"
	AuditShootRestart = "shoot.restart"
	AuditSignIn       = "session.sign_in"
	AuditSignOut      = "session.sign_out"
	// AuditAPIKeyCreate and AuditAPIKeyRevoke are in keys.go, the webhook actions in
	// webhook_endpoints.go.
	AuditShootStart  = "shoot.start"
	AuditShootSubmit = "shoot.submit"
	// A pipeline report is recorded as "shoot." and the status it set.
	AuditShootActive = "shoot.active"
	AuditShootFailed = "shoot.failed"
)

// AuditActions lists every action an audit event may record.
func AuditActions() []string {
	return []string{
		AuditRetryGive, AuditRetryResend, AuditShootRestart, AuditSignIn, AuditSignOut,
		AuditAPIKeyCreate, AuditAPIKeyRevoke, AuditShootStart, AuditShootSubmit, AuditShootActive, AuditShootFailed,
		AuditWebhookCreate, AuditWebhookUpdate, AuditWebhookDelete, AuditWebhookRotate, AuditWebhookDisable,
		AuditWebhookReplay, AuditWebhookTest,
	}
}

// Credential kinds: what an action was done with.
const (
	CredentialAPIKey     = "api_key"
	CredentialSession    = "session"
	CredentialCLI        = "cli"
	CredentialMemberLink = "member_link"
	CredentialPipeline   = "pipeline_token"
	// CredentialUnknown marks admin events written before credentials were recorded.
	CredentialUnknown = "unknown"
)

// Credential is what an actor acted with: an API key, an admin pages session, the
// command line. ID names it (a key's or a session's id, never a secret) where it has
// one; KeyID is the API key behind it, the key itself or the one a session signed in with.
type Credential struct {
	Kind  string `json:",omitempty"`
	ID    string `json:",omitempty"`
	KeyID string `json:",omitempty"`
}

// Event is an audit event of a's action: e with a's identity, credential and request id.
func (a Actor) Event(e AuditEvent) AuditEvent {
	e.ActorKind, e.ActorID, e.RequestID = a.Kind, a.ID, a.RequestID
	e.CredentialKind, e.CredentialID, e.KeyID = a.Credential.Kind, a.Credential.ID, a.Credential.KeyID
	return e
}

// Audit writes one audit event; callers pass their transaction so the event commits or
// rolls back with the change it describes.
func Audit(ctx context.Context, db bun.IDB, e AuditEvent) error {
	_, err := auditInsert(db, e).Exec(ctx)
	return err
}

// auditInsert is Audit's statement, for a transaction that sends it with its other
// writes (writes).
func auditInsert(db bun.IDB, e AuditEvent) *bun.InsertQuery {
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	if e.CredentialKind == "" {
		e.CredentialKind = CredentialUnknown
	}
	return db.NewInsert().Model(&e)
}

// AuditCursor is a keyset position in an organization's events: an event's time and id.
type AuditCursor struct {
	At time.Time
	ID int64
}

// AuditQuery selects a page of an organization's events.
type AuditQuery struct {
	OrgID    string
	MemberID string // "" for every member
	// Actor is an admin's or an API key's id: the events the admin did, or done with
	// the key (directly or through a session it signed in).
	Actor  string
	Action string
	Since  *time.Time // inclusive
	Until  *time.Time // exclusive
	// After pages on from a cursor: to older events, or with Backward to newer ones.
	After    *AuditCursor
	Backward bool
	Limit    int
}

// ListAuditEvents answers a page of events, newest first, and whether more lie beyond
// the page in the direction of travel. Events of one transaction share their time, so
// the id orders them among themselves.
func ListAuditEvents(ctx context.Context, db bun.IDB, q AuditQuery) ([]AuditEvent, bool, error) {
	events := make([]AuditEvent, 0, q.Limit+1)
	sel := auditFilter(db.NewSelect().Model(&events), q)
	switch {
	case q.After != nil && q.Backward:
		sel = sel.Where("(created_at, id) > (?, ?)", q.After.At, q.After.ID).OrderExpr("created_at ASC, id ASC")
	case q.After != nil:
		sel = sel.Where("(created_at, id) < (?, ?)", q.After.At, q.After.ID).OrderExpr("created_at DESC, id DESC")
	default:
		sel = sel.OrderExpr("created_at DESC, id DESC")
	}
	if err := sel.Limit(int64(q.Limit) + 1).Scan(ctx); err != nil {
		return nil, false, err
	}
	more := len(events) > q.Limit
	if more {
		events = events[:q.Limit]
	}
	if q.Backward {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	return events, more, nil
}

// CountAuditEvents counts the events q's filters select, up to limit+1: enough to tell
// whether they are more than limit without counting them all. The listing's order keeps
// the count on the listing's index, reading at most limit+1 of the organization's events
// wherever they lie in the table.
func CountAuditEvents(ctx context.Context, db bun.IDB, q AuditQuery, limit int) (int, error) {
	var n int
	sub := auditFilter(db.NewSelect().Model((*AuditEvent)(nil)).Column("id"), q).
		OrderExpr("created_at DESC, id DESC").Limit(int64(limit) + 1)
	err := db.NewSelect().TableExpr("(?) AS matched", sub).ColumnExpr("count(*)").Scan(ctx, &n)
	return n, err
}

func auditFilter(sel *bun.SelectQuery, q AuditQuery) *bun.SelectQuery {
	sel = sel.Where("org_id = ?", q.OrgID)
	if q.MemberID != "" {
		sel = sel.Where("member_id = ?", q.MemberID)
	}
	if q.Actor != "" {
		sel = sel.Where("(actor_id = ? OR key_id = ?)", q.Actor, q.Actor)
	}
	if q.Action != "" {
		sel = sel.Where("action = ?", q.Action)
	}
	if q.Since != nil {
		sel = sel.Where("created_at >= ?", *q.Since)
	}
	if q.Until != nil {
		sel = sel.Where("created_at < ?", *q.Until)
	}
	return sel
}

// AuditKey is what an audit listing shows of an API key: never its secret or hash.
type AuditKey struct {
	ID     string `bun:"id"`
	Role   string `bun:"role"`
	Prefix string `bun:"prefix"`
}

// AuditKeys maps the organization's API keys, revoked ones included, by id.
func AuditKeys(ctx context.Context, db bun.IDB, orgID string) (map[string]AuditKey, error) {
	var keys []AuditKey
	if err := db.NewSelect().Model((*APIKey)(nil)).Column("id", "role", "prefix").Where("org_id = ?", orgID).Scan(ctx, &keys); err != nil {
		return nil, err
	}
	out := make(map[string]AuditKey, len(keys))
	for _, k := range keys {
		out[k.ID] = k
	}
	return out, nil
}
