// Package problem defines the stable reason codes of retryd and the typed error that
// carries one from a rule, an activity or a handler to the HTTP answer
// (RFC 9457 application/problem+json with an extra "code" member).
package problem

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable, machine-readable reason. Clients switch on it; never rename one.
type Code string

const (
	// Give-retry rules 1–6 of docs/product.md, in the order they are checked.
	NotFound              Code = "not_found"
	RetryPending          Code = "retry_pending"
	ShootNotFinished      Code = "shoot_not_finished"
	ShootAlreadyRetried   Code = "shoot_already_retried"
	RetryWindowExpired    Code = "retry_window_expired"
	RetryCreditsExhausted Code = "retry_credits_exhausted"

	// Restart rules.
	NotManaged        Code = "not_managed"
	NoDeletedShoot    Code = "no_deleted_shoot"
	ActiveShootExists Code = "active_shoot_exists"

	// Member and pipeline side.
	InsufficientCredits Code = "insufficient_credits"
	InvalidShootStatus  Code = "invalid_shoot_status"
	RetryNotPending     Code = "retry_not_pending"
	// NoEmailAddress: the retry's member has no email address, so there is no email to
	// send again; the admin passes on the link the give showed.
	NoEmailAddress Code = "no_email_address"
	// Canceled answers a replayed Idempotency-Key whose retry or restart an operator
	// canceled or terminated before it was answered.
	Canceled Code = "canceled"
	// EmailRejected: the mail provider refused the message for good (e.g. its 422).
	EmailRejected Code = "email_rejected"
	InvalidToken  Code = "invalid_token"
	TokenExpired  Code = "token_expired"

	// Request shape and access.
	Unauthorized         Code = "unauthorized"
	ForbiddenForRole     Code = "forbidden_for_role"
	InvalidBody          Code = "invalid_body"
	InvalidID            Code = "invalid_id"
	InvalidParameter     Code = "invalid_parameter"
	IdempotencyKeyReused Code = "idempotency_key_reused"
	// DuplicateField: one object of the JSON body names a member twice, exactly or in
	// another case. The decoder would keep the last, so the body could mean something
	// other than what its Idempotency-Key hash was taken of.
	DuplicateField   Code = "duplicate_field"
	PayloadTooLarge  Code = "payload_too_large"
	UnsupportedMedia Code = "unsupported_media_type"
	MethodNotAllowed Code = "method_not_allowed"
	RouteNotFound    Code = "route_not_found"
	RateLimited      Code = "rate_limited"
	// EmailQueueFull: the organization has MAIL_QUEUE_PER_ORG emails waiting to be sent,
	// so no resend is queued until some have gone out.
	EmailQueueFull Code = "email_queue_full"

	// The audit listing's filters (GET /api/v1/admin/audit and its CSV export).
	UnknownAuditAction Code = "unknown_audit_action"
	InvalidTimeRange   Code = "invalid_time_range"
	InvalidFilter      Code = "invalid_filter"
	// ExportTooLarge: the CSV export would hold more rows than it sends at once; a
	// shorter time range fits.
	ExportTooLarge Code = "export_too_large"

	// Webhook endpoints (/api/v1/admin/webhook-endpoints). The URL codes are package
	// webhook's URLError codes: a URL that is not one, a scheme other than https (http
	// in development only), a host on an address webhooks may not reach (loopback,
	// private, link-local, cloud metadata), or a host DNS does not resolve.
	WebhookURLInvalid          Code = "webhook_url_invalid"
	WebhookURLScheme           Code = "webhook_url_scheme"
	WebhookURLForbiddenAddress Code = "webhook_url_forbidden_address"
	WebhookURLUnresolvable     Code = "webhook_url_unresolvable"
	UnknownEventType           Code = "unknown_event_type"
	// TooManyWebhookEndpoints: the organization has as many endpoints as it may.
	TooManyWebhookEndpoints Code = "too_many_webhook_endpoints"
	// WebhookEndpointDisabled: a test or a replay to a disabled endpoint, which receives
	// nothing until it is enabled again.
	WebhookEndpointDisabled Code = "webhook_endpoint_disabled"

	// Server side.
	Unavailable Code = "unavailable"
	Timeout     Code = "timeout"
	Internal    Code = "internal"
)

type meta struct {
	status int
	title  string
}

var codes = map[Code]meta{
	NotFound:                   {http.StatusNotFound, "Not found"},
	RetryPending:               {http.StatusConflict, "The member already has a pending retry"},
	ShootNotFinished:           {http.StatusConflict, "The shoot is not finished"},
	ShootAlreadyRetried:        {http.StatusConflict, "The shoot has already been retried"},
	RetryWindowExpired:         {http.StatusUnprocessableEntity, "The retry window has expired"},
	RetryCreditsExhausted:      {http.StatusUnprocessableEntity, "The member has no retries left"},
	NotManaged:                 {http.StatusUnprocessableEntity, "The member is not a managed member"},
	NoDeletedShoot:             {http.StatusConflict, "The member has no deleted shoot"},
	ActiveShootExists:          {http.StatusConflict, "The member has an active or in-progress shoot"},
	InsufficientCredits:        {http.StatusPaymentRequired, "The organization has no credits left"},
	InvalidShootStatus:         {http.StatusConflict, "The shoot is not in a status that allows this"},
	RetryNotPending:            {http.StatusConflict, "The retry is not pending"},
	NoEmailAddress:             {http.StatusUnprocessableEntity, "The member has no email address"},
	Canceled:                   {http.StatusConflict, "It was canceled by an operator"},
	EmailRejected:              {http.StatusUnprocessableEntity, "The email provider refused the message"},
	InvalidToken:               {http.StatusUnauthorized, "The link is not valid"},
	TokenExpired:               {http.StatusUnauthorized, "The link has expired"},
	Unauthorized:               {http.StatusUnauthorized, "Authentication required"},
	ForbiddenForRole:           {http.StatusForbidden, "This key's role may not do this"},
	InvalidBody:                {http.StatusBadRequest, "The request body is not valid"},
	InvalidID:                  {http.StatusBadRequest, "An id in the request is not valid"},
	InvalidParameter:           {http.StatusBadRequest, "A query parameter is not valid"},
	IdempotencyKeyReused:       {http.StatusUnprocessableEntity, "The Idempotency-Key was used with another request"},
	DuplicateField:             {http.StatusUnprocessableEntity, "A member of the JSON body appears more than once"},
	PayloadTooLarge:            {http.StatusRequestEntityTooLarge, "The request body is too large"},
	UnsupportedMedia:           {http.StatusUnsupportedMediaType, "The request body must be JSON"},
	MethodNotAllowed:           {http.StatusMethodNotAllowed, "Method not allowed"},
	RouteNotFound:              {http.StatusNotFound, "No such route"},
	RateLimited:                {http.StatusTooManyRequests, "Too many requests"},
	EmailQueueFull:             {http.StatusTooManyRequests, "Too many of the organization's emails wait to be sent"},
	UnknownAuditAction:         {http.StatusUnprocessableEntity, "No audit event records this action"},
	InvalidTimeRange:           {http.StatusUnprocessableEntity, "The time range is not valid"},
	InvalidFilter:              {http.StatusUnprocessableEntity, "A filter is not valid"},
	ExportTooLarge:             {http.StatusUnprocessableEntity, "The export would hold too many rows"},
	WebhookURLInvalid:          {http.StatusBadRequest, "The webhook URL is not a valid URL"},
	WebhookURLScheme:           {http.StatusUnprocessableEntity, "The webhook URL must use https"},
	WebhookURLForbiddenAddress: {http.StatusUnprocessableEntity, "The webhook URL's host is an address webhooks may not reach"},
	WebhookURLUnresolvable:     {http.StatusUnprocessableEntity, "The webhook URL's host could not be resolved"},
	UnknownEventType:           {http.StatusUnprocessableEntity, "No such webhook event type"},
	TooManyWebhookEndpoints:    {http.StatusUnprocessableEntity, "The organization has too many webhook endpoints"},
	WebhookEndpointDisabled:    {http.StatusConflict, "The webhook endpoint is disabled"},
	Unavailable:                {http.StatusServiceUnavailable, "A dependency is unavailable"},
	Timeout:                    {http.StatusGatewayTimeout, "The request took too long"},
	Internal:                   {http.StatusInternalServerError, "Internal error"},
}

// Status is the HTTP status of a code (500 for an unknown one).
func (c Code) Status() int {
	if m, ok := codes[c]; ok {
		return m.status
	}
	return http.StatusInternalServerError
}

// Title is the short human summary of a code.
func (c Code) Title() string {
	if m, ok := codes[c]; ok {
		return m.title
	}
	return "Internal error"
}

// Known tells whether c is one of retryd's codes.
func (c Code) Known() bool {
	_, ok := codes[c]
	return ok
}

// Codes lists every code (for the OpenAPI document and tests).
func Codes() []Code {
	out := make([]Code, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	return out
}

// Error is a refusal with a stable code and a human detail. Details must never carry
// secrets or personal data: they reach clients and logs.
type Error struct {
	Code   Code
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Detail
}

// New builds an *Error.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// As extracts an *Error from err's chain.
func As(err error) (*Error, bool) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}
