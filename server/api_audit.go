package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// The audit listing: who did what in the caller's organization (docs/product.md,
// section 4). Admin keys only: it names admins, keys and members.

const (
	defaultAuditPageSize = 50
	maxAuditPageSize     = 200
)

// auditEventDTO is one audit event as the API answers it. It never holds a secret: keys
// and sessions are named by their ids, members' links not at all.
type auditEventDTO struct {
	ID         int64              `json:"id"`
	OccurredAt time.Time          `json:"occurred_at"`
	Action     string             `json:"action"`
	Actor      auditActorDTO      `json:"actor"`
	Credential auditCredentialDTO `json:"credential"`
	Target     auditTargetDTO     `json:"target"`
	MemberID   *string            `json:"member_id,omitempty"`
	Outcome    string             `json:"outcome"`
	RequestID  string             `json:"request_id"`
}

type auditActorDTO struct {
	Kind string  `json:"kind"`
	ID   string  `json:"id"`
	Name *string `json:"name,omitempty"`
}

type auditCredentialDTO struct {
	Kind  string  `json:"kind"`
	ID    *string `json:"id"`
	KeyID *string `json:"key_id,omitempty"` // the key a session signed in with
}

type auditTargetDTO struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

type auditPageDTO struct {
	Events     []auditEventDTO `json:"events"`
	NextCursor *string         `json:"next_cursor"`
	PrevCursor *string         `json:"prev_cursor"`
}

// auditCursor is the position a page starts from, and which way it goes: to older
// events (next) or newer ones (prev).
type auditCursor struct {
	At   time.Time `json:"t"`
	ID   int64     `json:"i"`
	Back bool      `json:"b,omitempty"`
}

func encodeAuditCursor(e *store.AuditEvent, back bool) *string {
	b, _ := json.Marshal(auditCursor{At: e.CreatedAt.UTC(), ID: e.ID, Back: back})
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

func decodeAuditCursor(v string) (*auditCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	var c auditCursor
	if err := json.Unmarshal(b, &c); err != nil || c.ID <= 0 || c.At.IsZero() || !storableTime(c.At) {
		return nil, false
	}
	return &c, true
}

// parseAuditFilters reads the filters the listing and the CSV export share.
func parseAuditFilters(orgID string, q url.Values) (store.AuditQuery, error) {
	out := store.AuditQuery{OrgID: orgID}
	for _, f := range []struct {
		name string
		into *string
		what string
	}{{"member", &out.MemberID, "a member's id"}, {"actor", &out.Actor, "an admin's or an API key's id"}} {
		if v := q.Get(f.name); v != "" {
			id, ok := canonicalUUID(v)
			if !ok {
				return out, problem.New(problem.InvalidFilter, "%s must be %s (a UUID)", f.name, f.what)
			}
			*f.into = id
		}
	}
	if v := q.Get("action"); v != "" {
		if !slices.Contains(store.AuditActions(), v) {
			return out, problem.New(problem.UnknownAuditAction, "no audit event records the action %q; see the AuditAction values in openapi.json", truncate(v, 60))
		}
		out.Action = v
	}
	for _, f := range []struct {
		name string
		into **time.Time
	}{{"since", &out.Since}, {"until", &out.Until}} {
		if v := q.Get(f.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil || !storableTime(t) {
				return out, problem.New(problem.InvalidTimeRange, "%s must be an RFC 3339 time such as 2026-12-01T00:00:00Z", f.name)
			}
			*f.into = &t
		}
	}
	if out.Since != nil && out.Until != nil && !out.Since.Before(*out.Until) {
		return out, problem.New(problem.InvalidTimeRange, "since must be before until")
	}
	return out, nil
}

// storableTime: Postgres has no year 0, which RFC 3339 can spell (0000-01-01, or
// 0001-01-01 with a positive offset); such a time would fail the query as a 500.
func storableTime(t time.Time) bool { return t.UTC().Year() >= 1 }

// getAudit lists the organization's audit events, newest first, in keyset pages.
func (s *Server) getAudit(c *gin.Context) {
	q, err := parseAuditFilters(principal(c).OrgID, c.Request.URL.Query())
	if err != nil {
		s.fail(c, err)
		return
	}
	q.Limit = defaultAuditPageSize
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.abort(c, problem.InvalidParameter, "limit must be a whole number from 1 to %d", maxAuditPageSize)
			return
		}
		q.Limit = min(n, maxAuditPageSize)
	}
	if v := c.Query("cursor"); v != "" {
		cur, ok := decodeAuditCursor(v)
		if !ok {
			s.abort(c, problem.InvalidParameter, "cursor is not valid; use next_cursor or prev_cursor from a previous page")
			return
		}
		q.After, q.Backward = &store.AuditCursor{At: cur.At, ID: cur.ID}, cur.Back
	}
	ctx := c.Request.Context()
	events, more, err := store.ListAuditEvents(ctx, s.db, q)
	if err != nil {
		s.fail(c, err)
		return
	}
	names, err := auditNames(ctx, s.db, q.OrgID, events)
	if err != nil {
		s.fail(c, err)
		return
	}
	page := auditPageDTO{Events: make([]auditEventDTO, 0, len(events))}
	for i := range events {
		page.Events = append(page.Events, names.event(&events[i]))
	}
	// Going back, the page's older side is where the caller came from; going forward,
	// a cursor means newer events lie before the page.
	if n := len(events); n > 0 {
		first, last := &events[0], &events[n-1]
		if (!q.Backward && more) || (q.Backward && q.After != nil) {
			page.NextCursor = encodeAuditCursor(last, false)
		}
		if (q.Backward && more) || (!q.Backward && q.After != nil) {
			page.PrevCursor = encodeAuditCursor(first, true)
		}
	}
	c.JSON(http.StatusOK, page)
}

// auditNameBook names the actors of a page of events.
type auditNameBook struct {
	admins  map[string]string
	keys    map[string]store.AuditKey
	members map[string]string
}

// auditNames reads the names a page's actors need: the organization's admins and keys
// (a handful each), and the members who acted on the page.
func auditNames(ctx context.Context, db bun.IDB, orgID string, events []store.AuditEvent) (*auditNameBook, error) {
	b := &auditNameBook{}
	var err error
	if b.admins, err = store.AdminNames(ctx, db, orgID); err != nil {
		return nil, err
	}
	if b.keys, err = store.AuditKeys(ctx, db, orgID); err != nil {
		return nil, err
	}
	var memberIDs []string
	for _, e := range events {
		if e.ActorKind == store.ActorMember && !slices.Contains(memberIDs, e.ActorID) {
			memberIDs = append(memberIDs, e.ActorID)
		}
	}
	if b.members, err = store.MemberNames(ctx, db, orgID, memberIDs); err != nil {
		return nil, err
	}
	return b, nil
}

// actorName is how the listing names an actor; "" when it cannot (an admin since removed).
func (b *auditNameBook) actorName(kind, id string) string {
	switch kind {
	case store.ActorAdmin:
		return b.admins[id]
	case store.ActorAutomation:
		if k, ok := b.keys[id]; ok {
			return "Automation key " + k.Prefix
		}
		return "Automation key"
	case store.ActorMember:
		return b.members[id]
	case store.ActorPipeline:
		return "Pipeline"
	case store.ActorSystem:
		if id == "cli" {
			return "Command line"
		}
	}
	return ""
}

func (b *auditNameBook) event(e *store.AuditEvent) auditEventDTO {
	out := auditEventDTO{
		ID: e.ID, OccurredAt: e.CreatedAt.UTC(), Action: e.Action,
		Actor:      auditActorDTO{Kind: e.ActorKind, ID: e.ActorID},
		Credential: auditCredentialDTO{Kind: e.CredentialKind},
		Target:     auditTargetDTO{Kind: e.TargetKind, ID: e.TargetID},
		Outcome:    e.Outcome, RequestID: e.RequestID,
	}
	if n := b.actorName(e.ActorKind, e.ActorID); n != "" {
		out.Actor.Name = &n
	}
	if e.CredentialID != "" {
		out.Credential.ID = &e.CredentialID
	}
	if e.KeyID != "" && e.KeyID != e.CredentialID {
		out.Credential.KeyID = &e.KeyID
	}
	if e.MemberID != "" {
		out.MemberID = &e.MemberID
	}
	return out
}
