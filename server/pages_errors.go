package server

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/problem"
)

// refusalWords explains a refusal the way the help page would, never by its code. Every
// code a page can meet has words of its own; TestRefusalWordsForEveryCode lists the
// codes no page meets, and why.
func refusalWords(pb problemBody) string {
	switch problem.Code(pb.Code) {
	case problem.RetryPending:
		return pendingRetryNotice
	case problem.RetryCreditsExhausted:
		return "This member has used their free retry and has no retry credits left, so no retry can be given."
	case problem.ShootAlreadyRetried:
		return "This shoot has already been retried. Each member can receive one retry per shoot."
	case problem.RetryWindowExpired:
		// The detail names the configured window ("… within the last 60 days").
		if d := strings.TrimSpace(pb.Detail); d != "" {
			return strings.ToUpper(d[:1]) + d[1:] + ", and this shoot is older."
		}
		return "Retries are only available for shoots completed within the retry window, and this shoot is older."
	case problem.ShootNotFinished:
		return "This shoot is not finished, so there is nothing to retry yet."
	case problem.NotManaged:
		return "Only managed members' deleted shoots can be restarted. This member has their own HeadshotPro account."
	case problem.NoDeletedShoot:
		return "This member has no deleted shoot to restart."
	case problem.ActiveShootExists:
		return "This member already has an active or in-progress shoot, so a deleted shoot cannot be restarted."
	case problem.Canceled:
		return "An operator canceled this change before the member started, so it did not go through. Open the member's page to see where they stand before trying again."
	case problem.EmailRejected:
		return "The email provider refused this email for good (the address may be wrong, or no longer accept mail), so it was not sent. Sending it again will not help: check the member's email address."
	case problem.NoEmailAddress:
		return "This member has no email address, so there is no email to send again. Pass on the link that was shown when the retry was given."
	case problem.RetryNotPending:
		return "This retry is no longer pending (the member has started, or it ended), so its email cannot be sent again."
	case problem.IdempotencyKeyReused:
		return "This form was already used for a different request. Reload the page and try again."
	case problem.NotFound:
		return "This member is not in your organization, or no longer exists."
	case problem.RateLimited:
		// The API's detail says how long ago and how long to wait ("… try again in 42
		// seconds").
		if d := strings.TrimSpace(pb.Detail); d != "" {
			return strings.ToUpper(d[:1]) + d[1:] + "."
		}
		return "Too many requests. Wait a minute and try again."
	case problem.EmailQueueFull:
		return "Too many of your organization's emails are waiting to be sent, so this one was not queued. Try again in a few minutes, once some have gone out."
	case problem.Timeout, problem.Unavailable:
		return "The service took too long to answer. The change may still complete: reload the dashboard before trying again."
	case problem.InvalidID:
		return "This names a member or a retry that cannot exist. Find the member on the dashboard and try again."
	case problem.UnknownAuditAction:
		return "There is no such action. Choose one from the Action list."
	case problem.InvalidTimeRange:
		return "From must be on or before To. Dates are whole days in UTC."
	case problem.InvalidFilter:
		return "This member link is not valid. Show all members' activity, or open the member from the dashboard."
	case problem.ExportTooLarge:
		return "This range holds more than 100,000 events, too many for one file. Choose a shorter range with From and To, and download again."
	case problem.WebhookURLInvalid, problem.WebhookURLScheme, problem.WebhookURLForbiddenAddress, problem.WebhookURLUnresolvable:
		// The URL guard's own sentence says what is wrong with this URL ("the webhook
		// URL must use https, not http").
		if d := strings.TrimSpace(pb.Detail); d != "" {
			return strings.ToUpper(d[:1]) + d[1:] + "."
		}
		return "This URL cannot receive webhooks. Use an https address on the public internet."
	case problem.UnknownEventType:
		return "There is no such event. Choose the events to send from the list."
	case problem.TooManyWebhookEndpoints:
		return "Your organization has as many webhook endpoints as it may have. Delete one before adding another."
	case problem.WebhookEndpointDisabled:
		return "This endpoint is disabled, so nothing is sent to it. Enable it first."
	case problem.InvalidBody, problem.InvalidParameter:
		return "The form was not filled in as expected. Reload the page and try again."
	}
	msg := "Something went wrong on our side and nothing was changed."
	if pb.RequestID != "" {
		msg += " If it keeps happening, quote request id " + pb.RequestID + "."
	}
	return msg
}

// fail shows an error of a read as a page.
func (p *pages) fail(c *gin.Context, err error) {
	pe, ok := problem.As(err)
	if !ok {
		pe = p.s.classify(c, err)
	}
	pb := problemBody{Code: string(pe.Code), Status: pe.Code.Status(), RequestID: requestID(c)}
	heading := "Something went wrong"
	if pe.Code == problem.NotFound {
		heading = "Not found"
	}
	p.renderError(c, pe.Code.Status(), string(pe.Code), heading, refusalWords(pb))
}

// pageUUID reads an id from the path; an id that cannot exist is a page that does not.
func (p *pages) pageUUID(c *gin.Context, name string) (string, bool) {
	v := c.Param(name)
	id, err := uuid.Parse(v)
	if err != nil || len(v) != 36 {
		p.renderError(c, http.StatusNotFound, string(problem.NotFound), "Not found", "There is no such member or retry. Check the link, or find the member on the dashboard.")
		return "", false
	}
	return id.String(), true
}
