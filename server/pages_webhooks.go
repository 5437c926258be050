package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
)

// The Webhooks page: an organization's webhook endpoints and their deliveries, through
// the webhook API's own handlers (api_webhooks.go) run on the page's request, so the URL
// checks, the bound, the audit log and the tenancy are the API's. A secret is shown on
// the page that answers its creation or rotation, and never again.

const webhooksPage = "/app/admin/webhooks"

func (p *pages) webhookRoutes(admin *gin.RouterGroup) {
	admin.GET("/webhooks", p.getWebhooks)
	admin.POST("/webhooks", p.requireCSRF, p.postWebhookForm)
	admin.GET("/webhooks/:id", p.getWebhookDetail)
	admin.POST("/webhooks/:id/enable", p.requireCSRF, p.postWebhookEnabled(true))
	admin.POST("/webhooks/:id/disable", p.requireCSRF, p.postWebhookEnabled(false))
	admin.POST("/webhooks/:id/rotate-secret", p.requireCSRF, p.postWebhookRotate)
	admin.POST("/webhooks/:id/test", p.requireCSRF, p.postWebhookTestForm)
	admin.GET("/webhooks/:id/delete", p.getWebhookDelete)
	admin.POST("/webhooks/:id/delete", p.requireCSRF, p.postWebhookDelete)
	admin.POST("/webhooks/:id/deliveries/:delivery_id/replay", p.requireCSRF, p.postWebhookReplay)
}

// webhookEventLabels names the event types in the admin's words, in the API's order.
var webhookEventLabels = map[string]string{
	domain.EventRetryIssued:         "Retry given",
	domain.EventRetryEmailDelivered: "Retry email sent",
	domain.EventRetryEmailFailed:    "Retry email failed",
	domain.EventRetryStarted:        "Member started their retry",
	domain.EventRetryCanceled:       "Retry canceled",
	domain.EventRestartIssued:       "Shoot restarted",
	domain.EventRestartStarted:      "Member started their restarted shoot",
	domain.EventRestartCanceled:     "Restart canceled",
	domain.EventRestartEmailFailed:  "Restart email failed",
	domain.EventWebhookTest:         "Test event",
}

func webhookEventLabel(t string) string {
	if l, ok := webhookEventLabels[t]; ok {
		return l
	}
	return t
}

var deliveryStatusLabels = map[string]string{
	domain.DeliveryPending:   "Pending",
	domain.DeliveryDelivered: "Delivered",
	domain.DeliveryFailed:    "Failed",
	domain.DeliveryCanceled:  "Canceled",
}

// webhookNotices are the page's confirmations after a change, by the done parameter.
var webhookNotices = map[string]string{
	"enabled":  "The endpoint is enabled: events are sent to it again.",
	"disabled": "The endpoint is disabled: nothing is sent to it until you enable it.",
	"deleted":  "The endpoint is deleted, with its deliveries.",
	"tested":   "A test event is on its way to the endpoint. It appears in the deliveries below.",
	"replayed": "The event is on its way to the endpoint again, as a new delivery.",
}

// humanDuration says a configured duration in words: whole days, else whole hours,
// else minutes.
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	}
	return plural(int64(d/time.Minute), "minute")
}

// webhookEndpointView is one endpoint as the pages show it.
type webhookEndpointView struct {
	webhookEndpointDTO
	Events         string // the event types in words
	Added          *time.Time
	DisabledNotice string // why the system or an admin turned it off
	FailingNotice  string // deliveries failing, while still enabled
}

func (p *pages) endpointView(e webhookEndpointDTO) webhookEndpointView {
	added := e.CreatedAt
	v := webhookEndpointView{webhookEndpointDTO: e, Added: &added}
	labels := make([]string, 0, len(e.EventTypes))
	for _, t := range e.EventTypes {
		labels = append(labels, webhookEventLabel(t))
	}
	v.Events = strings.Join(labels, ", ")
	if !e.Enabled {
		switch derefString(e.DisabledReason) {
		case domain.EndpointDisabledGone:
			v.DisabledNotice = "Disabled after answering 410 Gone. Check the receiver, then enable the endpoint to send it events again."
		case domain.EndpointDisabledFailing:
			v.DisabledNotice = "Disabled: deliveries failed for " + humanDuration(p.retryFor()) + ". Fix the receiver, then enable the endpoint to send it events again."
		default:
			v.DisabledNotice = "Disabled by an admin. Nothing is sent to it until it is enabled."
		}
	} else if e.FailingSince != nil {
		v.FailingNotice = "Deliveries have been failing since " + formatDateTime(e.FailingSince) + ". If they keep failing for " +
			humanDuration(p.retryFor()) + ", the endpoint is disabled."
	}
	return v
}

// retryFor is WEBHOOK_RETRY_FOR as the pages say it; its default when unset.
func (p *pages) retryFor() time.Duration {
	if d := p.s.cfg.WebhookRetryFor; d > 0 {
		return d
	}
	return 72 * time.Hour
}

func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// endpointActionsView is what an endpoint's buttons need: the session's CSRF token and
// where a change returns to ("list" or "endpoint").
type endpointActionsView struct {
	CSRF     string
	Back     string
	Endpoint webhookEndpointView
}

func newEndpointActions(csrf, back string, e webhookEndpointView) endpointActionsView {
	return endpointActionsView{CSRF: csrf, Back: back, Endpoint: e}
}

// shownSecret is a secret on the page that answers its creation or rotation.
type shownSecret struct {
	EndpointID string
	URL        string
	Secret     string
	Rotated    bool
	// PreviousExpires is when the secret a rotation replaced stops signing.
	PreviousExpires *time.Time
}

type eventChoice struct {
	Value, Label string
	Checked      bool
}

// webhookForm is the add form as the admin filled it in.
type webhookForm struct {
	URL         string
	Description string
	EventTypes  []string
}

type webhooksView struct {
	Endpoints      []webhookEndpointView
	Notice         string
	Secret         *shownSecret
	Form           webhookForm
	Choices        []eventChoice
	IdempotencyKey string
	Error          string
	ProblemCode    string
	// ErrorField is the form field the error is about ("url", "event_types"), for focus
	// and aria-invalid.
	ErrorField string
	Max        int
	RetryFor   string
}

func (p *pages) getWebhooks(c *gin.Context) {
	p.renderWebhooks(c, http.StatusOK, webhooksView{Notice: webhookNotices[c.Query("done")]})
}

// renderWebhooks shows the list with v's notice, secret or form error.
func (p *pages) renderWebhooks(c *gin.Context, status int, v webhooksView) {
	w := callAPI(c, p.s.listWebhookEndpoints, nil, "")
	if pb, refused := w.problemOf(); refused {
		p.renderError(c, pb.Status, pb.Code, "Something went wrong", refusalWords(pb))
		return
	}
	var list webhookEndpointList // the API's own answer type: the page reads what the API wrote
	if err := json.Unmarshal(w.body.Bytes(), &list); err != nil {
		p.fail(c, err)
		return
	}
	for _, e := range list.Data {
		v.Endpoints = append(v.Endpoints, p.endpointView(e))
	}
	for _, t := range domain.EventTypes() {
		checked := false
		for _, f := range v.Form.EventTypes {
			checked = checked || f == t
		}
		v.Choices = append(v.Choices, eventChoice{Value: t, Label: webhookEventLabel(t), Checked: checked})
	}
	v.IdempotencyKey = uuid.NewString()
	v.Max = maxWebhookEndpoints
	v.RetryFor = humanDuration(p.retryFor())
	p.render(c, status, "webhooks", pageView{Title: "Webhooks", Page: v})
}

// postWebhookForm adds an endpoint through the API's handler and shows its secret once.
// The form's Idempotency-Key makes a double submit add one endpoint.
func (p *pages) postWebhookForm(c *gin.Context) {
	form := webhookForm{URL: strings.TrimSpace(c.PostForm("url")), Description: c.PostForm("description"), EventTypes: c.PostFormArray("event_type")}
	key := c.PostForm("idempotency_key")
	refuse := func(status int, code, field, words string) {
		p.renderWebhooks(c, status, webhooksView{Form: form, Error: words, ProblemCode: code, ErrorField: field})
	}
	if _, err := uuid.Parse(key); err != nil {
		refuse(http.StatusBadRequest, string(problem.InvalidBody), "", "This form is incomplete. Reload the page and add the endpoint again.")
		return
	}
	switch {
	case form.URL == "":
		refuse(http.StatusBadRequest, string(problem.InvalidBody), "url", "Enter the URL your receiver listens on, for example https://example.com/webhooks/retryd.")
		return
	case len(form.EventTypes) == 0:
		refuse(http.StatusBadRequest, string(problem.InvalidBody), "event_types", "Choose at least one event to send.")
		return
	}
	body, _ := json.Marshal(map[string]any{"url": form.URL, "description": form.Description, "event_types": form.EventTypes})
	w := callAPI(c, p.s.postWebhookEndpoint, body, key)
	if pb, refused := w.problemOf(); refused {
		field := ""
		if strings.HasPrefix(pb.Code, "webhook_url_") {
			field = "url"
		} else if pb.Code == string(problem.UnknownEventType) {
			field = "event_types"
		}
		refuse(pb.Status, pb.Code, field, webhookRefusal(pb))
		return
	}
	var ans webhookSecretDTO
	if err := json.Unmarshal(w.body.Bytes(), &ans); err != nil {
		p.fail(c, err)
		return
	}
	v := webhooksView{Notice: "The endpoint is added."}
	if ans.Secret != "" {
		v.Secret = &shownSecret{EndpointID: ans.ID, URL: ans.URL, Secret: ans.Secret}
	} else {
		// A replay of the form after the secret was rotated: it is not shown again.
		v.Notice = "The endpoint was added earlier; its secret has been rotated since, so it is not shown here."
	}
	p.renderWebhooks(c, http.StatusOK, v)
}

// webhookRefusal is a refusal of the webhook API in the page's words: refusalWords says
// every code, this page says which endpoint or delivery is not found, and an unavailable
// answer here is most often DNS that could not resolve the URL's host right now, which
// the API's detail says.
func webhookRefusal(pb problemBody) string {
	switch problem.Code(pb.Code) {
	case problem.NotFound:
		return "This webhook endpoint or delivery is not in your organization, or was deleted."
	case problem.Unavailable:
		if d := strings.TrimSpace(pb.Detail); d != "" {
			return strings.ToUpper(d[:1]) + d[1:] + "."
		}
	}
	return refusalWords(pb)
}

// webhookID reads an endpoint or delivery id from the path; one that cannot exist is a
// page that does not.
func (p *pages) webhookID(c *gin.Context, name string) (string, bool) {
	id, ok := canonicalUUID(c.Param(name))
	if !ok {
		p.webhookError(c, http.StatusNotFound, problemBody{Code: string(problem.NotFound), Status: http.StatusNotFound})
	}
	return id, ok
}

// webhookError shows a refusal as a page that leads back to the webhooks.
func (p *pages) webhookError(c *gin.Context, status int, pb problemBody) {
	heading := "The change was not made"
	if problem.Code(pb.Code) == problem.NotFound {
		heading = "Not found"
	}
	if pb.RequestID == "" {
		pb.RequestID = requestID(c)
	}
	p.render(c, status, "error", pageView{Title: heading, Page: errorView{Heading: heading, Message: webhookRefusal(pb), Code: pb.Code, Back: webhooksPage}})
	c.Abort()
}

// endpointBack is where a change made from the list or an endpoint's page returns to.
func endpointBack(c *gin.Context, id, done string) string {
	q := url.Values{"done": {done}}.Encode()
	if c.PostForm("back") == "endpoint" {
		return webhooksPage + "/" + id + "?" + q
	}
	return webhooksPage + "?" + q
}

// postWebhookEnabled turns an endpoint on or off through the API's PATCH.
func (p *pages) postWebhookEnabled(enabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := p.webhookID(c, "id")
		if !ok {
			return
		}
		body, _ := json.Marshal(map[string]bool{"enabled": enabled})
		w := callAPI(c, p.s.patchWebhookEndpoint, body, "")
		if pb, refused := w.problemOf(); refused {
			p.webhookError(c, pb.Status, pb)
			return
		}
		done := "disabled"
		if enabled {
			done = "enabled"
		}
		c.Redirect(http.StatusSeeOther, endpointBack(c, id, done))
	}
}

// postWebhookRotate gives the endpoint a new secret and shows it once.
func (p *pages) postWebhookRotate(c *gin.Context) {
	if _, ok := p.webhookID(c, "id"); !ok {
		return
	}
	w := callAPI(c, p.s.postRotateWebhookSecret, nil, "")
	if pb, refused := w.problemOf(); refused {
		p.webhookError(c, pb.Status, pb)
		return
	}
	var ans webhookSecretDTO
	if err := json.Unmarshal(w.body.Bytes(), &ans); err != nil {
		p.fail(c, err)
		return
	}
	p.renderWebhooks(c, http.StatusOK, webhooksView{
		Notice: "The endpoint has a new signing secret.",
		Secret: &shownSecret{EndpointID: ans.ID, URL: ans.URL, Secret: ans.Secret, Rotated: true, PreviousExpires: ans.PreviousSecretExpiresAt},
	})
}

func (p *pages) postWebhookTestForm(c *gin.Context) {
	id, ok := p.webhookID(c, "id")
	if !ok {
		return
	}
	w := callAPI(c, p.s.postWebhookTest, nil, "")
	if pb, refused := w.problemOf(); refused {
		p.renderWebhookDetail(c, id, pb.Status, "", &pb)
		return
	}
	c.Redirect(http.StatusSeeOther, webhooksPage+"/"+id+"?done=tested")
}

func (p *pages) postWebhookReplay(c *gin.Context) {
	id, ok := p.webhookID(c, "id")
	if !ok {
		return
	}
	if _, ok := p.webhookID(c, "delivery_id"); !ok {
		return
	}
	w := callAPI(c, p.s.postReplayWebhookDelivery, nil, "")
	if pb, refused := w.problemOf(); refused {
		p.renderWebhookDetail(c, id, pb.Status, "", &pb)
		return
	}
	c.Redirect(http.StatusSeeOther, webhooksPage+"/"+id+"?done=replayed")
}

type webhookDeleteView struct {
	Endpoint webhookEndpointDTO
}

// getWebhookDelete asks before deleting: the confirmation is a page, so it works without
// JavaScript.
func (p *pages) getWebhookDelete(c *gin.Context) {
	if _, ok := p.webhookID(c, "id"); !ok {
		return
	}
	e, ok := p.readEndpoint(c)
	if !ok {
		return
	}
	p.render(c, http.StatusOK, "webhookdelete", pageView{Title: "Delete webhook endpoint", Page: webhookDeleteView{Endpoint: e}})
}

func (p *pages) postWebhookDelete(c *gin.Context) {
	if _, ok := p.webhookID(c, "id"); !ok {
		return
	}
	w := callAPI(c, p.s.deleteWebhookEndpoint, nil, "")
	if pb, refused := w.problemOf(); refused {
		p.webhookError(c, pb.Status, pb)
		return
	}
	c.Redirect(http.StatusSeeOther, webhooksPage+"?done=deleted")
}

// readEndpoint reads the path's endpoint through the API, or shows why it cannot.
func (p *pages) readEndpoint(c *gin.Context) (webhookEndpointDTO, bool) {
	var e webhookEndpointDTO
	w := callAPI(c, p.s.getWebhookEndpoint, nil, "")
	if pb, refused := w.problemOf(); refused {
		p.webhookError(c, pb.Status, pb)
		return e, false
	}
	if err := json.Unmarshal(w.body.Bytes(), &e); err != nil {
		p.fail(c, err)
		return e, false
	}
	return e, true
}

type deliveryRow struct {
	webhookDeliveryDTO
	EventLabel  string
	StatusLabel string
	Answer      string
}

type webhookDetailView struct {
	Endpoint    webhookEndpointView
	Deliveries  []deliveryRow
	NewestURL   string
	OlderURL    string
	Notice      string
	Error       string
	ProblemCode string
}

func (p *pages) getWebhookDetail(c *gin.Context) {
	id, ok := p.webhookID(c, "id")
	if !ok {
		return
	}
	p.renderWebhookDetail(c, id, http.StatusOK, webhookNotices[c.Query("done")], nil)
}

// renderWebhookDetail shows an endpoint with a page of its deliveries, and a notice or a
// refusal of the change just tried.
func (p *pages) renderWebhookDetail(c *gin.Context, id string, status int, notice string, refusal *problemBody) {
	e, ok := p.readEndpoint(c)
	if !ok {
		return
	}
	q := url.Values{"limit": {"25"}}
	before := c.Query("before")
	if before != "" {
		if _, ok := decodeDeliveryCursor(before); ok {
			q.Set("before", before)
		} else {
			// A broken page link shows the newest deliveries, and says so.
			before, status = "", http.StatusBadRequest
			refusal = &problemBody{Code: string(problem.InvalidParameter), Status: status}
		}
	}
	w := callAPIWithQuery(c, p.s.listWebhookDeliveries, q)
	if pb, refused := w.problemOf(); refused {
		p.webhookError(c, pb.Status, pb)
		return
	}
	var page webhookDeliveryPage
	if err := json.Unmarshal(w.body.Bytes(), &page); err != nil {
		p.fail(c, err)
		return
	}
	v := webhookDetailView{Endpoint: p.endpointView(e), Notice: notice}
	if refusal != nil {
		v.Error, v.ProblemCode = webhookRefusal(*refusal), refusal.Code
		if problem.Code(refusal.Code) == problem.InvalidParameter {
			v.Error = "This page link is not valid. Here are the newest deliveries."
		}
	}
	if before != "" {
		v.NewestURL = webhooksPage + "/" + id
	}
	if page.NextCursor != nil {
		v.OlderURL = webhooksPage + "/" + id + "?" + url.Values{"before": {*page.NextCursor}}.Encode()
	}
	for _, d := range page.Data {
		row := deliveryRow{webhookDeliveryDTO: d, EventLabel: webhookEventLabel(d.EventType), StatusLabel: deliveryStatusLabels[d.Status]}
		switch {
		case d.LastStatusCode != nil:
			row.Answer = fmt.Sprintf("%d %s", *d.LastStatusCode, http.StatusText(*d.LastStatusCode))
		case d.LastError != nil:
			row.Answer = "No answer: " + *d.LastError
		default:
			row.Answer = "Not yet attempted"
		}
		v.Deliveries = append(v.Deliveries, row)
	}
	p.render(c, status, "webhook", pageView{Title: "Webhook endpoint", Page: v})
}
