package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/webhook"
)

// Webhook endpoints: where an organization's events are sent (docs/webhooks.md). Admin
// keys only: an endpoint receives the organization's members' ids, and its secret is what
// receivers trust. The secret is shown twice only: in the answer that creates the endpoint
// and in the answer of a rotation.

const (
	// maxWebhookEndpoints bounds an organization's endpoints: each event is written once
	// per subscribed endpoint, in the transaction of the change it reports.
	maxWebhookEndpoints   = 20
	maxWebhookDescription = 500
	// urlCheckTimeout bounds the DNS lookup of a URL an admin sets, so a slow resolver
	// is an answer in words (503, try again) rather than a request that hangs.
	urlCheckTimeout = 5 * time.Second

	defaultDeliveryPageSize = 50
	maxDeliveryPageSize     = 200
)

func (s *Server) webhookRoutes(g *gin.RouterGroup) {
	g.POST("/webhook-endpoints", s.postWebhookEndpoint)
	g.GET("/webhook-endpoints", s.listWebhookEndpoints)
	g.GET("/webhook-endpoints/:id", s.getWebhookEndpoint)
	g.PATCH("/webhook-endpoints/:id", s.patchWebhookEndpoint)
	g.DELETE("/webhook-endpoints/:id", s.deleteWebhookEndpoint)
	g.POST("/webhook-endpoints/:id/rotate-secret", s.postRotateWebhookSecret)
	g.POST("/webhook-endpoints/:id/test", s.postWebhookTest)
	g.GET("/webhook-endpoints/:id/deliveries", s.listWebhookDeliveries)
	g.POST("/webhook-endpoints/:id/deliveries/:delivery_id/replay", s.postReplayWebhookDelivery)
}

// endpointID reads the endpoint's id from the path; one that cannot exist is not found.
func (s *Server) endpointID(c *gin.Context) (string, bool) {
	return s.parseUUID(c, c.Param("id"), "webhook endpoint")
}

// webhookEndpointDTO is an endpoint as the API shows it: never with a secret.
type webhookEndpointDTO struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
	Enabled     bool     `json:"enabled"`
	// DisabledReason is admin, gone (it answered 410) or failing (its deliveries failed
	// for WEBHOOK_RETRY_FOR); null while enabled.
	DisabledReason *string    `json:"disabled_reason"`
	DisabledAt     *time.Time `json:"disabled_at"`
	FailingSince   *time.Time `json:"failing_since"`
	// PreviousSecretExpiresAt is when the secret replaced by the last rotation stops
	// signing; null before any rotation.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func endpointDTO(e *store.WebhookEndpoint) webhookEndpointDTO {
	return webhookEndpointDTO{
		ID: e.ID, URL: e.URL, Description: e.Description, EventTypes: e.EventTypes, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, DisabledAt: utcPtr(e.DisabledAt), FailingSince: utcPtr(e.FailingSince),
		PreviousSecretExpiresAt: utcPtr(e.PreviousSecretExpiresAt), CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
	}
}

// webhookSecretDTO is an endpoint with its signing secret: a rotation's answer.
type webhookSecretDTO struct {
	webhookEndpointDTO
	Secret string `json:"secret"`
}

// createdEndpointDTO is a creation's answer. Stored under an Idempotency-Key without
// its secret (sealedAnswer); a replay shows the secret again while it is still the one
// the creation made, and not once the endpoint was rotated or deleted.
type createdEndpointDTO struct {
	webhookEndpointDTO
	Secret string `json:"secret,omitempty"`

	secret string                                                               // the new secret, for the first answer
	lookup func(ctx context.Context, id string) (*store.WebhookEndpoint, error) // for a replay
}

func (d *createdEndpointDTO) reveal(ctx context.Context) error {
	d.Secret = d.secret
	if d.Secret != "" || d.lookup == nil || d.ID == "" {
		return nil
	}
	e, err := d.lookup(ctx, d.ID)
	if pe, ok := problem.As(err); ok && pe.Code == problem.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	d.Secret = creationSecret(e)
	return nil
}

// creationSecret is the secret an endpoint was created with, while it still has it;
// "" once it was rotated.
func creationSecret(e *store.WebhookEndpoint) string {
	if e.PreviousSecret != nil {
		return ""
	}
	return e.Secret
}

// webhookEndpointRequest is the body of a creation (url and event_types required) and
// of an update (any of the fields; enabled on updates only).
type webhookEndpointRequest struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"event_types"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

// checkEventTypes refuses an empty list, a duplicate and a type that does not exist, and
// answers the types in the documented order.
func checkEventTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, problem.New(problem.InvalidBody, "event_types must name at least one event type")
	}
	known := domain.EventTypes()
	for i, t := range types {
		if !slices.Contains(known, t) {
			return nil, problem.New(problem.UnknownEventType, "there is no webhook event type %q; the types are %s", truncate(t, 60), strings.Join(known, ", "))
		}
		if slices.Contains(types[:i], t) {
			return nil, problem.New(problem.InvalidBody, "event_types names %s more than once", t)
		}
	}
	out := make([]string, 0, len(types))
	for _, t := range known {
		if slices.Contains(types, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > maxWebhookDescription {
		return problem.New(problem.InvalidBody, "description must be at most %d characters", maxWebhookDescription)
	}
	return nil
}

// checkWebhookURL applies the URL policy. A refusal carries package webhook's code and
// its sentence, which names neither the URL's credentials nor its query. A lookup that
// failed for now (a timeout, a temporary failure, urlCheckTimeout) is 503 unavailable: a
// 5xx, so an Idempotency-Key does not store it and the same key checks again.
func (s *Server) checkWebhookURL(c *gin.Context, raw string) error {
	ctx := c.Request.Context()
	lookup, cancel := context.WithTimeout(ctx, urlCheckTimeout)
	defer cancel()
	_, err := s.cfg.WebhookPolicy.CheckURL(lookup, raw, s.resolver)
	var ue *webhook.URLError
	var le *webhook.LookupError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue):
		return problem.New(problem.Code(ue.Code), "%s", ue.Reason)
	case ctx.Err() != nil:
		return err // the request ended: answered as its timeout or cancellation
	case errors.As(err, &le):
		s.log.WarnContext(ctx, "webhook URL lookup failed for now", "request_id", requestID(c), "host", le.Host, "error", le.Err)
		return problem.New(problem.Unavailable, "the webhook URL's host %s could not be resolved right now; try again shortly", le.Host)
	}
	return err
}

// postWebhookEndpoint creates an endpoint and answers its secret. With an
// Idempotency-Key, the endpoint's id derives from the key, so a repeated request answers
// the endpoint the first one made instead of making another.
func (s *Server) postWebhookEndpoint(c *gin.Context) {
	body, err := readBody(c)
	if err == nil {
		// Before the key is claimed: the key's hash must be of the request that runs.
		err = refuseDuplicateFields(body)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	orgID := principal(c).OrgID
	lookup := func(ctx context.Context, id string) (*store.WebhookEndpoint, error) {
		return store.GetWebhookEndpoint(ctx, s.db, orgID, id)
	}
	s.idempotentLinked(c, body, func() any { return &createdEndpointDTO{lookup: lookup} }, func() (int, any, bool, error) {
		out, err := s.createWebhookEndpoint(c, body, lookup)
		if err != nil {
			return 0, nil, true, err
		}
		return http.StatusCreated, out, true, nil
	})
}

func (s *Server) createWebhookEndpoint(c *gin.Context, body []byte, lookup func(context.Context, string) (*store.WebhookEndpoint, error)) (*createdEndpointDTO, error) {
	ctx := c.Request.Context()
	orgID := principal(c).OrgID
	id := s.webhookEndpointID(c, orgID)
	// This key's endpoint, made by a request whose answer was lost: answered as made.
	own := func() (*createdEndpointDTO, error) {
		e, err := lookup(ctx, id)
		if err != nil {
			return nil, err
		}
		return &createdEndpointDTO{webhookEndpointDTO: endpointDTO(e), secret: creationSecret(e), lookup: lookup}, nil
	}
	if idempotencyScope(c) != "" {
		if d, err := own(); err == nil {
			return d, nil
		} else if pe, ok := problem.As(err); !ok || pe.Code != problem.NotFound {
			return nil, err
		}
	}
	var req webhookEndpointRequest
	if err := decodeJSON(body, &req, false); err != nil {
		return nil, err
	}
	if req.URL == nil || *req.URL == "" {
		return nil, problem.New(problem.InvalidBody, "url is required: the https URL the events are sent to")
	}
	if req.EventTypes == nil {
		return nil, problem.New(problem.InvalidBody, "event_types is required: the event types the endpoint receives")
	}
	types, err := checkEventTypes(*req.EventTypes)
	if err != nil {
		return nil, err
	}
	var description string
	if req.Description != nil {
		description = *req.Description
		if err := checkDescription(description); err != nil {
			return nil, err
		}
	}
	if err := s.checkWebhookURL(c, *req.URL); err != nil {
		return nil, err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	e, err := store.CreateWebhookEndpoint(ctx, s.db, store.NewWebhookEndpoint{
		ID: id, OrgID: orgID, URL: *req.URL, Description: description, EventTypes: types, Secret: secret, Max: maxWebhookEndpoints,
	}, actor(c), s.now())
	if errors.Is(err, store.ErrWebhookEndpointExists) {
		// A concurrent request with the same key made it first.
		return own()
	}
	if err != nil {
		return nil, err
	}
	return &createdEndpointDTO{webhookEndpointDTO: endpointDTO(e), secret: secret}, nil
}

// webhookEndpointID is random, or derived from the Idempotency-Key.
func (s *Server) webhookEndpointID(c *gin.Context, orgID string) string {
	if scope := idempotencyScope(c); scope != "" {
		return uuid.NewSHA1(uuid.MustParse(orgID), []byte("webhook-endpoint:"+scope)).String()
	}
	return uuid.NewString()
}

type webhookEndpointList struct {
	Data []webhookEndpointDTO `json:"data"`
}

func (s *Server) listWebhookEndpoints(c *gin.Context) {
	es, err := store.ListWebhookEndpoints(c.Request.Context(), s.db, principal(c).OrgID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := webhookEndpointList{Data: make([]webhookEndpointDTO, 0, len(es))}
	for i := range es {
		out.Data = append(out.Data, endpointDTO(&es[i]))
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getWebhookEndpoint(c *gin.Context) {
	id, ok := s.endpointID(c)
	if !ok {
		return
	}
	e, err := store.GetWebhookEndpoint(c.Request.Context(), s.db, principal(c).OrgID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, endpointDTO(e))
}

// patchWebhookEndpoint changes what the body names. A new URL is checked as on creation;
// enabling clears why the endpoint was disabled.
func (s *Server) patchWebhookEndpoint(c *gin.Context) {
	id, ok := s.endpointID(c)
	if !ok {
		return
	}
	var req webhookEndpointRequest
	if _, ok := s.bindJSON(c, &req, false); !ok {
		return
	}
	ctx := c.Request.Context()
	orgID := principal(c).OrgID
	// Another organization's endpoint is not found, whatever the body holds.
	if _, err := store.GetWebhookEndpoint(ctx, s.db, orgID, id); err != nil {
		s.fail(c, err)
		return
	}
	if req.URL == nil && req.EventTypes == nil && req.Description == nil && req.Enabled == nil {
		s.abort(c, problem.InvalidBody, "name at least one of url, event_types, description and enabled")
		return
	}
	patch := store.WebhookEndpointPatch{Description: req.Description, Enabled: req.Enabled}
	if req.EventTypes != nil {
		types, err := checkEventTypes(*req.EventTypes)
		if err != nil {
			s.fail(c, err)
			return
		}
		patch.EventTypes = types
	}
	if req.Description != nil {
		if err := checkDescription(*req.Description); err != nil {
			s.fail(c, err)
			return
		}
	}
	if req.URL != nil {
		if err := s.checkWebhookURL(c, *req.URL); err != nil {
			s.fail(c, err)
			return
		}
		patch.URL = req.URL
	}
	e, err := store.UpdateWebhookEndpoint(ctx, s.db, orgID, id, patch, actor(c), s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, endpointDTO(e))
}

func (s *Server) deleteWebhookEndpoint(c *gin.Context) {
	id, ok := s.endpointID(c)
	if !ok {
		return
	}
	if err := store.DeleteWebhookEndpoint(c.Request.Context(), s.db, principal(c).OrgID, id, actor(c)); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// postRotateWebhookSecret gives the endpoint a new secret and answers it. The replaced
// secret keeps signing beside it for WEBHOOK_SECRET_OVERLAP, so receivers can switch.
func (s *Server) postRotateWebhookSecret(c *gin.Context) {
	id, ok := s.endpointID(c)
	if !ok {
		return
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		s.fail(c, err)
		return
	}
	now := s.now()
	e, err := store.RotateWebhookSecret(c.Request.Context(), s.db, principal(c).OrgID, id, secret, now.Add(s.cfg.WebhookSecretOverlap), actor(c), now)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, webhookSecretDTO{webhookEndpointDTO: endpointDTO(e), Secret: secret})
}

// enabledEndpoint reads the caller's endpoint and refuses a disabled one: it is sent
// nothing until enabled, tests and replays included.
func (s *Server) enabledEndpoint(c *gin.Context, id string) bool {
	e, err := store.GetWebhookEndpoint(c.Request.Context(), s.db, principal(c).OrgID, id)
	if err != nil {
		s.fail(c, err)
		return false
	}
	if !e.Enabled {
		s.abort(c, problem.WebhookEndpointDisabled, "the endpoint is disabled and receives nothing; enable it first (PATCH with enabled true)")
		return false
	}
	return true
}

// postWebhookTest sends the endpoint a webhook.test event, to it alone.
func (s *Server) postWebhookTest(c *gin.Context) {
	id, ok := s.endpointID(c)
	if !ok || !s.enabledEndpoint(c, id) {
		return
	}
	d, err := store.SendWebhookTest(c.Request.Context(), s.db, principal(c).OrgID, id, actor(c), s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, deliveryDTO(d))
}

// postReplayWebhookDelivery sends a delivery's event to its endpoint again, as a new
// delivery whose replay_of names the old one; the body is the same, webhook-id too.
func (s *Server) postReplayWebhookDelivery(c *gin.Context) {
	id, ok := s.endpointID(c)
	if !ok {
		return
	}
	deliveryID, ok := s.parseUUID(c, c.Param("delivery_id"), "webhook delivery")
	if !ok || !s.enabledEndpoint(c, id) {
		return
	}
	d, err := store.ReplayWebhookDelivery(c.Request.Context(), s.db, principal(c).OrgID, id, deliveryID, actor(c), s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, deliveryDTO(d))
}

// webhookDeliveryDTO is one event on its way to one endpoint, with its last attempt.
type webhookDeliveryDTO struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code"`
	LastError      *string    `json:"last_error"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
	CreatedAt      time.Time  `json:"created_at"`
	ReplayOf       *string    `json:"replay_of"`
}

func deliveryDTO(d *store.WebhookDelivery) webhookDeliveryDTO {
	return webhookDeliveryDTO{
		ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status, Attempts: d.Attempts,
		LastStatusCode: d.LastStatusCode, LastError: d.LastError, LastAttemptAt: utcPtr(d.LastAttemptAt),
		DeliveredAt: utcPtr(d.DeliveredAt), CreatedAt: d.CreatedAt.UTC(), ReplayOf: d.ReplayOf,
	}
}

type webhookDeliveryPage struct {
	Data       []webhookDeliveryDTO `json:"data"`
	NextCursor *string              `json:"next_cursor"`
}

// deliveryCursor is where the next (older) page of deliveries starts.
type deliveryCursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func encodeDeliveryCursor(d *store.WebhookDelivery) *string {
	b, _ := json.Marshal(deliveryCursor{At: d.CreatedAt.UTC(), ID: d.ID})
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

func decodeDeliveryCursor(v string) (*store.DeliveryCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	var c deliveryCursor
	if err := json.Unmarshal(b, &c); err != nil || c.At.IsZero() || !storableTime(c.At) {
		return nil, false
	}
	id, ok := canonicalUUID(c.ID)
	if !ok {
		return nil, false
	}
	return &store.DeliveryCursor{At: c.At, ID: id}, true
}

// listWebhookDeliveries answers an endpoint's deliveries, newest first, in keyset pages.
func (s *Server) listWebhookDeliveries(c *gin.Context) {
	id, ok := s.endpointID(c)
	if !ok {
		return
	}
	limit := defaultDeliveryPageSize
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.abort(c, problem.InvalidParameter, "limit must be a whole number from 1 to %d", maxDeliveryPageSize)
			return
		}
		limit = min(n, maxDeliveryPageSize)
	}
	var before *store.DeliveryCursor
	if v := c.Query("before"); v != "" {
		if before, ok = decodeDeliveryCursor(v); !ok {
			s.abort(c, problem.InvalidParameter, "before is not valid; use next_cursor from a previous page")
			return
		}
	}
	ds, more, err := store.ListWebhookDeliveries(c.Request.Context(), s.db, principal(c).OrgID, id, before, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	page := webhookDeliveryPage{Data: make([]webhookDeliveryDTO, 0, len(ds))}
	for i := range ds {
		page.Data = append(page.Data, deliveryDTO(&ds[i]))
	}
	if more && len(ds) > 0 {
		page.NextCursor = encodeDeliveryCursor(&ds[len(ds)-1])
	}
	c.JSON(http.StatusOK, page)
}
