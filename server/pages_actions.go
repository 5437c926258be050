package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// capturedResponse records what an API handler answers, so a page can run the API's own
// handler (rules, audit, Idempotency-Key, metrics) and then answer in HTML.
type capturedResponse struct {
	gin.ResponseWriter
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *capturedResponse) Header() http.Header { return w.header }
func (w *capturedResponse) WriteHeader(code int) {
	if w.body.Len() == 0 {
		w.status = code
	}
}
func (w *capturedResponse) WriteHeaderNow() {}
func (w *capturedResponse) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
func (w *capturedResponse) WriteString(s string) (int, error) { return w.Write([]byte(s)) }
func (w *capturedResponse) Status() int                       { return w.status }
func (w *capturedResponse) Size() int                         { return w.body.Len() }
func (w *capturedResponse) Written() bool                     { return w.body.Len() > 0 }

// callAPI runs an API handler on this request with a JSON body and an Idempotency-Key,
// and returns its answer. The page's own response is untouched.
func callAPI(c *gin.Context, handler gin.HandlerFunc, body []byte, idempotencyKey string) *capturedResponse {
	orig := c.Writer
	w := &capturedResponse{ResponseWriter: orig, header: http.Header{}}
	c.Writer = w
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	c.Request.ContentLength = int64(len(body))
	c.Request.Header.Del("Content-Type")
	if len(body) > 0 {
		c.Request.Header.Set("Content-Type", "application/json")
	}
	c.Request.Header.Del("Idempotency-Key")
	if idempotencyKey != "" {
		c.Request.Header.Set("Idempotency-Key", idempotencyKey)
	}
	defer func() { c.Writer = orig }()
	handler(c)
	return w
}

// problemOf reads a problem answer; ok is false for a success.
func (w *capturedResponse) problemOf() (problemBody, bool) {
	var pb problemBody
	if w.status < 400 {
		return pb, false
	}
	if err := json.Unmarshal(w.body.Bytes(), &pb); err != nil || pb.Code == "" {
		pb = problemBody{Code: string(problem.Internal), Status: w.status}
	}
	return pb, true
}

// refusalWords explains a refusal the way the help page would, never by its code.
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
	case problem.RetryNotPending:
		return "This retry is no longer pending (the member has started, or it ended), so its email cannot be sent again."
	case problem.IdempotencyKeyReused:
		return "This form was already used for a different request. Reload the page and try again."
	case problem.NotFound:
		return "This member is not in your organization, or no longer exists."
	case problem.Timeout, problem.Unavailable:
		return "The service took too long to answer. The change may still complete: reload the dashboard before trying again."
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

// confirmView is the Give retry confirmation: the modal's content, and the whole page
// when JavaScript is off.
type confirmView struct {
	Member         *store.Member
	ShootID        string
	Effects        []string
	ConfirmLabel   string
	Notice         string // the pending-retry notice, shown instead of the button
	Refusal        string // why no retry can be given, in words
	AllowanceToUse string
	Remaining      int
	IdempotencyKey string
}

// previewAnswer is the API's retry preview as the page reads it.
type previewAnswer struct {
	State          string   `json:"state"`
	ShootID        string   `json:"shoot_id"`
	Effects        []string `json:"effects"`
	ConfirmLabel   *string  `json:"confirm_label"`
	Notice         *string  `json:"notice"`
	Code           *string  `json:"code"`
	AllowanceToUse *string  `json:"allowance_to_use"`
	Remaining      int      `json:"retries_remaining"`
}

// getRetryConfirm shows what Give retry will do, from the API's preview, so the modal
// and the API use the same words and the same rules.
func (p *pages) getRetryConfirm(c *gin.Context) {
	memberID, ok := p.pageUUID(c, "id")
	if !ok {
		return
	}
	if sid := c.Query("shoot_id"); sid != "" {
		if _, err := uuid.Parse(sid); err != nil || len(sid) != 36 {
			p.renderError(c, http.StatusNotFound, string(problem.NotFound), "Not found", "There is no such shoot. Find the member on the dashboard and try again.")
			return
		}
	}
	member, err := store.GetMember(c.Request.Context(), p.s.db, principal(c).OrgID, memberID)
	if err != nil {
		p.fail(c, err)
		return
	}
	w := callAPI(c, p.s.getRetryPreview, nil, "")
	if pb, refused := w.problemOf(); refused {
		p.renderError(c, pb.Status, pb.Code, "No retry can be given", refusalWords(pb))
		return
	}
	var pa previewAnswer
	if err := json.Unmarshal(w.body.Bytes(), &pa); err != nil {
		p.fail(c, err)
		return
	}
	v := confirmView{Member: member, ShootID: pa.ShootID, Effects: pa.Effects, Remaining: pa.Remaining, IdempotencyKey: uuid.NewString()}
	switch pa.State {
	case "confirm":
		v.ConfirmLabel = *pa.ConfirmLabel
		if pa.AllowanceToUse != nil {
			v.AllowanceToUse = *pa.AllowanceToUse
		}
	case "pending_notice":
		v.Notice = *pa.Notice
	default:
		pb := problemBody{}
		if pa.Code != nil {
			pb.Code = *pa.Code
		}
		if pa.Notice != nil {
			pb.Detail = *pa.Notice
		}
		v.Refusal = refusalWords(pb)
	}
	p.render(c, http.StatusOK, "confirm", pageView{Title: "Give retry", Page: v})
}

// postRetryForm gives the retry through the API's handler. The form carries an
// Idempotency-Key rendered with the modal, so a double click gives one retry.
func (p *pages) postRetryForm(c *gin.Context) {
	memberID, ok := p.pageUUID(c, "id")
	if !ok {
		return
	}
	key, shootID, reason := c.PostForm("idempotency_key"), c.PostForm("shoot_id"), c.PostForm("reason")
	if _, err := uuid.Parse(key); err != nil {
		p.renderError(c, http.StatusBadRequest, string(problem.InvalidBody), "This form is incomplete", "Reload the dashboard and open Give retry again.")
		return
	}
	req := map[string]string{"shoot_id": shootID}
	if reason != "" {
		req["reason"] = reason
	}
	body, _ := json.Marshal(req)
	w := callAPI(c, p.s.postRetry, body, key)
	if pb, refused := w.problemOf(); refused {
		member, err := store.GetMember(c.Request.Context(), p.s.db, principal(c).OrgID, memberID)
		if err != nil {
			p.fail(c, err)
			return
		}
		v := confirmView{Member: member, ShootID: shootID, IdempotencyKey: uuid.NewString(), Remaining: member.RetriesRemaining()}
		if pb.Code == string(problem.RetryPending) {
			v.Notice = pendingRetryNotice
		} else {
			v.Refusal = refusalWords(pb)
		}
		p.render(c, pb.Status, "confirm", pageView{Title: "Give retry", Page: v})
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/admin/headshots?given="+memberID)
}

type restartedView struct {
	Member     *store.Member
	AccessLink string
}

// postRestartForm restarts a managed member's deleted shoot through the API's handler.
// When the member has no email, the fresh access link is shown here, once: it is the only
// way to reach them.
func (p *pages) postRestartForm(c *gin.Context) {
	memberID, ok := p.pageUUID(c, "id")
	if !ok {
		return
	}
	key := c.PostForm("idempotency_key")
	if _, err := uuid.Parse(key); err != nil {
		p.renderError(c, http.StatusBadRequest, string(problem.InvalidBody), "This form is incomplete", "Reload the dashboard and press Restart shoot again.")
		return
	}
	w := callAPI(c, p.s.postRestart, nil, key)
	if pb, refused := w.problemOf(); refused {
		p.renderError(c, pb.Status, pb.Code, "The shoot was not restarted", refusalWords(pb))
		return
	}
	var ans struct {
		AccessLink *string `json:"access_link"`
	}
	if err := json.Unmarshal(w.body.Bytes(), &ans); err != nil {
		p.fail(c, err)
		return
	}
	if ans.AccessLink == nil {
		c.Redirect(http.StatusSeeOther, "/app/admin/headshots?restarted="+memberID)
		return
	}
	member, err := store.GetMember(c.Request.Context(), p.s.db, principal(c).OrgID, memberID)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "restarted", pageView{Title: "Shoot restarted", Page: restartedView{Member: member, AccessLink: *ans.AccessLink}})
}

// postResendForm sends a pending retry's email again through the API's handler.
func (p *pages) postResendForm(c *gin.Context) {
	memberID, ok := p.pageUUID(c, "id")
	if !ok {
		return
	}
	if _, ok := p.pageUUID(c, "retry_id"); !ok {
		return
	}
	w := callAPI(c, p.s.postResendEmail, nil, "")
	if pb, refused := w.problemOf(); refused {
		p.renderError(c, pb.Status, pb.Code, "The email was not sent again", refusalWords(pb))
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/admin/members/"+memberID+"?resent=1")
}

// reasonLabel is a reason code in words ("bad_lighting" is "Bad lighting").
func reasonLabel(r *string) string {
	if r == nil || *r == "" {
		return "—"
	}
	return wordsLabel(strings.TrimSpace(*r))
}
