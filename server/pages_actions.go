package server

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

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
	Back           string // the dashboard place to come back to (pages_place.go)
	BackURL        string // Cancel's address: the dashboard at that place
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
	var pa previewDTO // the API's own answer type: the page reads what the API wrote
	if err := json.Unmarshal(w.body.Bytes(), &pa); err != nil {
		p.fail(c, err)
		return
	}
	place := placeFrom(c.Query("back"))
	v := confirmView{Member: member, ShootID: pa.ShootID, Effects: pa.Effects, Remaining: pa.RetriesRemaining, IdempotencyKey: uuid.NewString(),
		Back: place.back(), BackURL: place.url()}
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
	place := placeFrom(c.PostForm("back"))
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
		v := confirmView{Member: member, ShootID: shootID, IdempotencyKey: uuid.NewString(), Remaining: member.RetriesRemaining(),
			Back: place.back(), BackURL: place.url()}
		if pb.Code == string(problem.RetryPending) {
			v.Notice = pendingRetryNotice
		} else {
			v.Refusal = refusalWords(pb)
		}
		p.render(c, pb.Status, "confirm", pageView{Title: "Give retry", Page: v})
		return
	}
	// A member without email gets the link only through the admin: it is shown here,
	// once (a replay of the form's key signs it afresh), as after a restart.
	var ans retryDTO
	if err := json.Unmarshal(w.body.Bytes(), &ans); err != nil {
		p.fail(c, err)
		return
	}
	if ans.AccessLink == nil {
		c.Redirect(http.StatusSeeOther, place.urlFor("given", memberID))
		return
	}
	member, err := store.GetMember(c.Request.Context(), p.s.db, principal(c).OrgID, memberID)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "retried", pageView{Title: "Retry given", Page: restartedView{Member: member, AccessLink: *ans.AccessLink, BackURL: place.urlFor("given", memberID)}})
}

// restartedView shows the access link of a member without email, once: after a restart
// ("restarted") or a given retry ("retried").
type restartedView struct {
	Member     *store.Member
	AccessLink string
	BackURL    string // the dashboard where the admin was, at the member's card
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
	place := placeFrom(c.PostForm("back"))
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
		c.Redirect(http.StatusSeeOther, place.urlFor("restarted", memberID))
		return
	}
	member, err := store.GetMember(c.Request.Context(), p.s.db, principal(c).OrgID, memberID)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "restarted", pageView{Title: "Shoot restarted", Page: restartedView{Member: member, AccessLink: *ans.AccessLink, BackURL: place.urlFor("restarted", memberID)}})
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
		if ra := w.header.Get("Retry-After"); ra != "" {
			c.Header("Retry-After", ra)
		}
		p.renderError(c, pb.Status, pb.Code, "The email was not sent again", refusalWords(pb))
		return
	}
	c.Redirect(http.StatusSeeOther, "/app/admin/members/"+memberID+"?resent=1")
}
