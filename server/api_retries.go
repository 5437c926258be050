package server

import (
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// Texts of the confirmation modal; they are the help page's words (docs/product.md).
const (
	effectReset        = "The member's shoot will be reset to onboarding."
	effectEmail        = "The member receives an email notification with a link to retry their shoot."
	confirmLabel       = "Delete results and retry"
	pendingRetryNotice = "This member already has a pending retry that they have not acted on yet. Instruct the member to log in and start their photo shoot — no further admin action is needed."
)

// effectNoEmail replaces effectEmail for a managed member without an address: no email
// can reach them, so the admin is shown the link once, to pass on.
const effectNoEmail = "The member has no email address, so no email is sent: the link to retry their shoot is shown to you once, to pass on to them."

type previewDTO struct {
	State            string   `json:"state"`
	MemberID         string   `json:"member_id"`
	ShootID          string   `json:"shoot_id"`
	Effects          []string `json:"effects"`
	ConfirmLabel     *string  `json:"confirm_label"`
	Notice           *string  `json:"notice"`
	Code             *string  `json:"code"`
	AllowanceToUse   *string  `json:"allowance_to_use"`
	RetriesRemaining int      `json:"retries_remaining"`
}

// getRetryPreview is the confirmation modal. Without shoot_id it previews the member's
// most recent shoot, the one on their dashboard card.
func (s *Server) getRetryPreview(c *gin.Context) {
	ctx := c.Request.Context()
	orgID := principal(c).OrgID
	memberID, ok := s.pathUUID(c, "id")
	if !ok {
		return
	}
	member, err := store.GetMember(ctx, s.db, orgID, memberID)
	if err != nil {
		s.fail(c, err)
		return
	}
	shootID := c.Query("shoot_id")
	if shootID == "" {
		d, err := store.GetMemberDetail(ctx, s.db, orgID, memberID)
		if err != nil {
			s.fail(c, err)
			return
		}
		if len(d.Shoots) == 0 {
			s.abort(c, problem.NotFound, "the member has no shoot")
			return
		}
		shootID = d.Shoots[0].ID
	} else if shootID, ok = s.parseUUID(c, shootID, "shoot_id"); !ok {
		return
	}
	p := previewDTO{MemberID: memberID, ShootID: shootID, Effects: []string{}, RetriesRemaining: member.RetriesRemaining()}
	allowance, err := store.CheckRetry(ctx, s.db, orgID, memberID, shootID, s.now(), s.cfg.RetryWindow)
	pe, refused := problem.As(err)
	switch {
	case err == nil:
		label, use := confirmLabel, string(allowance)
		effect := effectEmail
		if member.Email == nil || *member.Email == "" {
			effect = effectNoEmail
		}
		p.State, p.Effects, p.ConfirmLabel, p.AllowanceToUse = "confirm", []string{effectReset, effect}, &label, &use
	case refused && pe.Code == problem.NotFound:
		s.fail(c, err)
		return
	case refused && pe.Code == problem.RetryPending:
		notice, code := pendingRetryNotice, string(pe.Code)
		p.State, p.Notice, p.Code = "pending_notice", &notice, &code
	case refused:
		notice, code := pe.Detail, string(pe.Code)
		p.State, p.Notice, p.Code = "ineligible", &notice, &code
	default:
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

type giveRetryRequest struct {
	ShootID string  `json:"shoot_id"`
	Reason  *string `json:"reason"`
	Note    *string `json:"note"`
}

var nonCode = regexp.MustCompile(`[^a-z0-9]+`)

const (
	maxNoteLen   = 1000
	maxReasonLen = 64
)

// validate checks the request and turns the reason into a code ("Bad lighting" becomes
// bad_lighting): the reason travels in the workflow input, where only codes belong;
// free text goes in note.
func (r *giveRetryRequest) validate() error {
	if _, err := uuid.Parse(r.ShootID); err != nil || len(r.ShootID) != 36 {
		return problem.New(problem.InvalidBody, "shoot_id is required and must be a UUID")
	}
	if r.Reason != nil {
		code := strings.Trim(nonCode.ReplaceAllString(strings.ToLower(*r.Reason), "_"), "_")
		if *r.Reason != "" && (code == "" || len(code) > maxReasonLen) {
			return problem.New(problem.InvalidBody, "reason must be a short reason code, e.g. bad_lighting, wrong_expressions, low_quality_photos, other")
		}
		r.Reason = &code
	}
	if r.Note != nil && utf8.RuneCountInString(*r.Note) > maxNoteLen {
		return problem.New(problem.InvalidBody, "note must be at most %d characters", maxNoteLen)
	}
	return nil
}

// postRetry gives a retry. It answers 201 once the workflow has reserved the allowance and
// reset the shoot (Update-with-Start waits for the issue update), so a refreshed dashboard
// already shows the member In Progress; the email may still be on its way.
func (s *Server) postRetry(c *gin.Context) {
	memberID, ok := s.pathUUID(c, "id")
	if !ok {
		return
	}
	body, err := readBody(c)
	if err == nil {
		// Before the key is claimed: the key's hash must be of the request that runs.
		// Other refusals of the body come from giveRetry and are stored under the key.
		err = refuseDuplicateFields(body)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	// Counted inside the callback, so a replayed answer is not counted twice. The answer
	// carries the access link when the member has no email; it is stored without it.
	s.idempotentLinked(c, body, func() any { return new(retryDTO) }, func() (int, any, bool, error) {
		status, out, err := s.giveRetry(c, memberID, body)
		if err == nil {
			s.metrics.RetryIssued()
		} else if pe, ok := problem.As(err); ok && pe.Code.Status() < 500 {
			s.metrics.RetryRefused(string(pe.Code))
		}
		return status, out, true, err
	})
}

func (s *Server) giveRetry(c *gin.Context, memberID string, body []byte) (int, any, error) {
	ctx := c.Request.Context()
	var req giveRetryRequest
	if err := decodeJSON(body, &req, false); err != nil {
		return 0, nil, err
	}
	if err := req.validate(); err != nil {
		return 0, nil, err
	}
	req.ShootID = uuid.MustParse(req.ShootID).String()
	orgID := principal(c).OrgID
	retryID := s.retryID(c, orgID)
	// A replayed Idempotency-Key whose retry exists answers from that retry: the member
	// may have started since (201 with the started retry), an operator may have canceled
	// it, or its run may be gone, which the start below repairs by resuming it.
	own, err := s.ownRetry(c, retryID, memberID, req.ShootID)
	if err != nil {
		return 0, nil, err
	}
	if own == nil {
		// The pre-check answers an ineligible request without starting anything; the
		// activity checks again under row locks, which is what makes it safe. A refusal
		// caused by this key's own retry (a concurrent request with the same key got
		// there first) attaches to that retry instead.
		if _, err := store.CheckRetry(ctx, s.db, orgID, memberID, req.ShootID, s.now(), s.cfg.RetryWindow); err != nil {
			if own, _ = s.ownRetry(c, retryID, memberID, req.ShootID); own == nil {
				return 0, nil, err
			}
		}
	}
	if own != nil && own.Status != domain.StatusPending {
		return s.retryAnswer(c, own)
	}
	act := actor(c)
	in := workflows.RetryInput{
		RetryID: retryID, OrgID: orgID, MemberID: memberID, ShootID: req.ShootID,
		Issue: workflows.Issue{IssuedByKind: act.Kind, IssuedBy: act.ID, RequestID: act.RequestID, Credential: act.Credential,
			Reminders: s.cfg.Reminders, Tuning: s.tuning()},
	}
	if own != nil {
		// Resumed as recorded, the way `retryd resume` does.
		in = workflows.RetryInputFor(own, s.cfg.Reminders, s.tuning(), act.RequestID)
	} else if req.Reason != nil {
		in.Reason = *req.Reason
	}
	if _, err := s.workflows.Retry(ctx, in, act.RequestID); err != nil {
		return 0, nil, workflowError(err, problem.ShootAlreadyRetried)
	}
	// Kept only once the retry exists, so a refused give leaves no note behind.
	if req.Note != nil && *req.Note != "" {
		if err := store.SaveRetryNote(ctx, s.db, retryID, *req.Note); err != nil {
			return 0, nil, err
		}
	}
	r, err := store.GetRetry(ctx, s.db, retryID)
	if err != nil {
		return 0, nil, err
	}
	return s.retryAnswer(c, r)
}

// ownRetry is the retry a replayed Idempotency-Key created, or nil. One that does not
// match the request means the key was used for another request. Without a key the id
// is new (retryID), so there is nothing to look up, and no round trip is spent on it.
func (s *Server) ownRetry(c *gin.Context, retryID, memberID, shootID string) (*store.Retry, error) {
	if idempotencyScope(c) == "" {
		return nil, nil
	}
	r, err := store.GetRetry(c.Request.Context(), s.db, retryID)
	if pe, ok := problem.As(err); ok && pe.Code == problem.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.MemberID != memberID || r.ShootID != shootID {
		return nil, problem.New(problem.IdempotencyKeyReused, "this Idempotency-Key was used with a different request")
	}
	return r, nil
}

// retryAnswer is the 201 of a given retry, or the refusal of one that ended without the
// member starting.
func (s *Server) retryAnswer(c *gin.Context, r *store.Retry) (int, any, error) {
	if r.Status == domain.StatusFailed {
		return 0, nil, problem.New(problem.Canceled, "this retry ended without the member starting: an operator canceled it; see the member's retries")
	}
	c.Header("Location", "/api/v1/admin/members/"+r.MemberID)
	out := toRetry(r)
	return http.StatusCreated, &out, nil
}

// signLinks gives the admin the link of a retry whose member has no email address: no
// email will reach the member, so the admin passes it on. Others get none.
func (d *retryDTO) signLinks(sign func(memberID, shootID string) string) {
	d.AccessLink = nil
	if d.Email.Status == domain.EmailNotApplicable {
		link := sign(d.MemberID, d.ShootID)
		d.AccessLink = &link
	}
}

// retryID is random, or derived from the Idempotency-Key so that two concurrent requests
// with one key attach to the same update of the same workflow.
func (s *Server) retryID(c *gin.Context, orgID string) string {
	if scope := idempotencyScope(c); scope != "" {
		return uuid.NewSHA1(uuid.MustParse(orgID), []byte("retry:"+scope)).String()
	}
	return uuid.NewString()
}

// postResendEmail sends a pending retry's email again through its workflow.
func (s *Server) postResendEmail(c *gin.Context) {
	ctx := c.Request.Context()
	memberID, ok := s.pathUUID(c, "id")
	if !ok {
		return
	}
	retryID, ok := s.pathUUID(c, "retry_id")
	if !ok {
		return
	}
	r, err := store.GetRetry(ctx, s.db, retryID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if r.OrgID != principal(c).OrgID || r.MemberID != memberID {
		s.abort(c, problem.NotFound, "retry not found")
		return
	}
	if r.Status != domain.StatusPending {
		s.abort(c, problem.RetryNotPending, "the retry is %s; only a pending retry's email can be sent again", r.Status)
		return
	}
	if r.EmailStatus == domain.EmailNotApplicable {
		s.abort(c, problem.NoEmailAddress, "the member has no email address, so no email is sent; pass on the link shown when the retry was given")
		return
	}
	// The cooldown and the organization's queue cap are decided in the database before
	// the workflow is asked, so concurrent resends send at most one email.
	claim, ok := s.claimResend(c, r.OrgID, r.ID)
	if !ok {
		return
	}
	// An update the workflow never took (Temporal away, the run gone) sends nothing, so
	// its claim is given back. One accepted is queued, and its claim stays even when the
	// send outlasts this request (a backlog at the email pace).
	res, accepted, err := s.workflows.ResendEmail(ctx, r.WorkflowID)
	if !accepted {
		s.releaseResend(ctx, claim)
		s.fail(c, workflowError(err, problem.RetryNotPending))
		return
	}
	if err = workflowError(err, problem.RetryNotPending); err != nil {
		if pe, ok := problem.As(err); ok && pe.Code == problem.RetryNotPending {
			s.releaseResend(ctx, claim)
		}
		s.fail(c, err)
		return
	}
	if res.Skipped {
		s.releaseResend(ctx, claim) // nothing was sent (the member started, say)
	}
	// A resend the workflow skipped (the member started meanwhile) sent nothing, and the
	// audit log says so.
	outcome := "sent"
	if res.Skipped {
		outcome = "skipped"
	}
	if err := store.Audit(ctx, s.db, actor(c).Event(store.AuditEvent{
		OrgID: r.OrgID, Action: store.AuditRetryResend, TargetKind: "retry", TargetID: r.ID, Outcome: outcome, MemberID: r.MemberID,
	})); err != nil {
		s.fail(c, err)
		return
	}
	if r, err = store.GetRetry(ctx, s.db, retryID); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toRetry(r))
}

// retryDTO is a retry as the API answers it (docs/product.md, section 4).
type retryDTO struct {
	ID            string     `json:"id"`
	MemberID      string     `json:"member_id"`
	ShootID       string     `json:"shoot_id"`
	Status        string     `json:"status"`
	Stage         string     `json:"stage"`
	AllowanceUsed string     `json:"allowance_used"`
	Reason        *string    `json:"reason"`
	Note          *string    `json:"note"`
	Email         emailDTO   `json:"email"`
	RemindersSent int        `json:"reminders_sent"`
	IssuedBy      string     `json:"issued_by"`
	IssuedByKind  string     `json:"issued_by_kind"`
	IssuedAt      time.Time  `json:"issued_at"`
	StartedAt     *time.Time `json:"started_at"`
	WorkflowID    string     `json:"workflow_id"`
	// AccessLink is set only in the answer of a give (and its replays) when the member
	// has no email address: signed as it is sent (signLinks), never stored.
	AccessLink *string `json:"access_link,omitempty"`
}

func toRetry(r *store.Retry) retryDTO {
	return retryDTO{
		ID: r.ID, MemberID: r.MemberID, ShootID: r.ShootID, Status: r.Status, Stage: r.Stage,
		AllowanceUsed: r.AllowanceUsed, Reason: r.Reason, Note: r.Note,
		Email:         emailDTO{Status: r.EmailStatus, MessageID: r.EmailMessageID},
		RemindersSent: r.RemindersSent, IssuedBy: r.IssuedBy, IssuedByKind: r.IssuedByKind,
		IssuedAt: r.IssuedAt, StartedAt: r.StartedAt, WorkflowID: r.WorkflowID,
	}
}
