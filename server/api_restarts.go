package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// maxBulkRestarts bounds one bulk call; larger sets are sent in several calls.
const maxBulkRestarts = 100

// bulkParallelism bounds how many restarts of one bulk call run at once.
const bulkParallelism = 8

// postRestart restarts a managed member's deleted shoot: 201 with the restart and the
// new shoot, and the access link when the member has no email address.
func (s *Server) postRestart(c *gin.Context) {
	memberID, ok := s.pathUUID(c, "id")
	if !ok {
		return
	}
	// The body is optional; a restart always restarts the member's most recent deleted shoot.
	body, ok := s.bindJSON(c, &struct{}{}, true)
	if !ok {
		return
	}
	// Refusals are final and stored under the key like any other answer.
	s.idempotentLinked(c, body, func() any { return new(restartAnswer) }, func() (int, any, bool, error) {
		out, err := s.restartOne(c, memberID, s.restartID(c, memberID))
		if err != nil {
			return 0, nil, true, err
		}
		return http.StatusCreated, out, true, nil
	})
}

type restartAnswer struct {
	restartDTO
	Shoot shootDTO `json:"shoot"`
}

// restartID is random, or derived from the Idempotency-Key and the member so that a
// replayed bulk call restarts nobody twice.
func (s *Server) restartID(c *gin.Context, memberID string) string {
	if scope := idempotencyScope(c); scope != "" {
		return uuid.NewSHA1(uuid.MustParse(principal(c).OrgID), []byte("restart:"+scope+":"+memberID)).String()
	}
	return uuid.NewString()
}

func (s *Server) restartOne(c *gin.Context, memberID, restartID string) (*restartAnswer, error) {
	out, err := s.restartMember(c, memberID, restartID)
	if err == nil {
		s.metrics.RestartIssued()
	} else if pe, ok := problem.As(err); ok && pe.Code.Status() < 500 {
		s.metrics.RestartRefused(string(pe.Code))
	}
	return out, err
}

func (s *Server) restartMember(c *gin.Context, memberID, restartID string) (*restartAnswer, error) {
	ctx := c.Request.Context()
	orgID := principal(c).OrgID
	// A replayed Idempotency-Key (a bulk call's too) answers from its own restart, with
	// the access link again: a member without email gets it however often the call is
	// repeated. A pending one goes through the start below, which attaches to its run
	// or resumes it if the run is gone.
	own, err := s.ownRestart(c, restartID, memberID)
	if err != nil {
		return nil, err
	}
	if own == nil {
		if s.beforeRestartCheck != nil {
			s.beforeRestartCheck(memberID)
		}
		// The pre-check answers an ineligible request without starting anything; the
		// activity checks again under the member's lock. A refusal caused by this key's
		// own restart (a concurrent request with the same key created it between the
		// lookup above and the check: its new shoot is the open one) attaches to that
		// restart instead. Stored as a refusal, it would be replayed for the key's whole
		// life, and a member without email would never get the link.
		if err := store.CheckRestart(ctx, s.db, orgID, memberID); err != nil {
			if own, _ = s.ownRestart(c, restartID, memberID); own == nil {
				return nil, err
			}
		}
	}
	if own != nil {
		switch own.Status {
		case domain.StatusFailed:
			return nil, problem.New(problem.Canceled, "this restart ended without the member starting: an operator canceled it")
		case domain.StatusStarted:
			return s.restartAnswer(ctx, own)
		}
	}
	act := actor(c)
	in := workflows.RestartInput{
		RestartID: restartID, OrgID: orgID, MemberID: memberID, NewShootID: uuid.NewSHA1(uuid.MustParse(restartID), []byte("shoot")).String(),
		Issue: workflows.Issue{IssuedByKind: act.Kind, IssuedBy: act.ID, RequestID: act.RequestID, Credential: act.Credential,
			Reminders: s.cfg.Reminders, Tuning: s.tuning()},
	}
	if own != nil {
		in = workflows.RestartInputFor(own, s.cfg.Reminders, s.tuning(), act.RequestID)
	}
	if _, err := s.workflows.Restart(ctx, in, act.RequestID); err != nil {
		return nil, workflowError(err, problem.ActiveShootExists)
	}
	r, err := store.GetRestart(ctx, s.db, restartID)
	if err != nil {
		return nil, err
	}
	return s.restartAnswer(ctx, r)
}

// ownRestart is the restart this request's id names (one a request with the same
// Idempotency-Key created), or nil. One of another member means the key was used for
// another request. Without a key the id is new (restartID): nothing to look up.
func (s *Server) ownRestart(c *gin.Context, restartID, memberID string) (*store.Restart, error) {
	if idempotencyScope(c) == "" {
		return nil, nil
	}
	r, err := store.GetRestart(c.Request.Context(), s.db, restartID)
	if pe, ok := problem.As(err); ok && pe.Code == problem.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.MemberID != memberID {
		return nil, problem.New(problem.IdempotencyKeyReused, "this Idempotency-Key was used with a different request")
	}
	return r, nil
}

// restartAnswer is the restart with its new shoot. Its access link is signed as it is
// sent (signLinks), never stored.
func (s *Server) restartAnswer(ctx context.Context, r *store.Restart) (*restartAnswer, error) {
	shoot, err := store.GetShoot(ctx, s.db, r.NewShootID)
	if err != nil {
		return nil, err
	}
	return &restartAnswer{restartDTO: toRestart(r), Shoot: toShoot(shoot, 0)}, nil
}

// signLinks gives a member without email the link to their new shoot: the admin or the
// automation passes it on, since no email will. Others get none.
func (a *restartAnswer) signLinks(sign func(memberID, shootID string) string) {
	a.AccessLink = nil
	if a.Email.Status == domain.EmailNotApplicable {
		link := sign(a.MemberID, a.NewShootID)
		a.AccessLink = &link
	}
}

type bulkRestartRequest struct {
	MemberIDs []string `json:"member_ids"`
}

// bulkRestartAnswer answers a bulk call: one result per member listed, in order.
type bulkRestartAnswer struct {
	Results []bulkResult `json:"results"`
}

func (a *bulkRestartAnswer) signLinks(sign func(memberID, shootID string) string) {
	for _, r := range a.Results {
		if r.Restart != nil {
			r.Restart.signLinks(sign)
		}
	}
}

type bulkResult struct {
	MemberID string         `json:"member_id"`
	Outcome  string         `json:"outcome"`
	Code     *string        `json:"code"`
	Detail   string         `json:"detail,omitempty"`
	Restart  *restartAnswer `json:"restart"`
}

// postBulkRestarts restarts up to 100 members, each independently: one member's refusal
// or failure never undoes or blocks another's restart.
func (s *Server) postBulkRestarts(c *gin.Context) {
	var req bulkRestartRequest
	body, ok := s.bindJSON(c, &req, false)
	if !ok {
		return
	}
	if len(req.MemberIDs) == 0 || len(req.MemberIDs) > maxBulkRestarts {
		s.abort(c, problem.InvalidBody, "member_ids must list 1 to %d member ids", maxBulkRestarts)
		return
	}
	s.idempotentLinked(c, body, func() any { return new(bulkRestartAnswer) }, func() (int, any, bool, error) {
		results := s.bulkRestart(c, req.MemberIDs)
		// An answer with a server-side error is not kept: the same key then retries the
		// members that failed, while the restarted ones attach to their own restarts.
		final := true
		for _, r := range results {
			final = final && r.Outcome != "error"
		}
		return http.StatusOK, &bulkRestartAnswer{Results: results}, final, nil
	})
}

func (s *Server) bulkRestart(c *gin.Context, ids []string) []bulkResult {
	results := make([]bulkResult, len(ids))
	seen := map[string]int{}
	sem := make(chan struct{}, bulkParallelism)
	var wg sync.WaitGroup
	for i, raw := range ids {
		results[i].MemberID = raw
		id, err := uuid.Parse(raw)
		if err != nil || len(raw) != 36 {
			results[i].skip(problem.New(problem.InvalidID, "member id must be a UUID"))
			continue
		}
		if first, dup := seen[id.String()]; dup {
			results[i].skip(problem.New(problem.InvalidBody, "member listed twice; see the result at index %d", first))
			continue
		}
		seen[id.String()] = i
		wg.Add(1)
		sem <- struct{}{}
		go func(r *bulkResult, memberID string) {
			defer func() { <-sem; wg.Done() }()
			out, err := s.restartOne(c, memberID, s.restartID(c, memberID))
			if err == nil {
				r.Outcome, r.Restart = "restarted", out
				return
			}
			if pe, ok := problem.As(err); ok && pe.Code.Status() < 500 {
				r.skip(pe)
				return
			}
			s.log.ErrorContext(c.Request.Context(), "bulk restart failed for a member", "request_id", requestID(c), "member_id", memberID, "error", err)
			code := string(s.classify(c, err).Code)
			r.Outcome, r.Code, r.Detail = "error", &code, "the restart could not be completed; try again"
		}(&results[i], id.String())
	}
	wg.Wait()
	return results
}

func (r *bulkResult) skip(pe *problem.Error) {
	code := string(pe.Code)
	r.Outcome, r.Code, r.Detail = "skipped", &code, pe.Detail
}

// restartDTO is a restart as the API answers it (docs/product.md, section 4).
type restartDTO struct {
	ID         string     `json:"id"`
	MemberID   string     `json:"member_id"`
	OldShootID string     `json:"old_shoot_id"`
	NewShootID string     `json:"new_shoot_id"`
	Status     string     `json:"status"`
	Stage      string     `json:"stage"`
	Email      emailDTO   `json:"email"`
	IssuedBy   string     `json:"issued_by"`
	IssuedAt   time.Time  `json:"issued_at"`
	StartedAt  *time.Time `json:"started_at"`
	WorkflowID string     `json:"workflow_id"`
	AccessLink *string    `json:"access_link,omitempty"`
}

func toRestart(r *store.Restart) restartDTO {
	return restartDTO{
		ID: r.ID, MemberID: r.MemberID, OldShootID: r.OldShootID, NewShootID: r.NewShootID,
		Status: r.Status, Stage: r.Stage, Email: emailDTO{Status: r.EmailStatus, MessageID: r.EmailMessageID},
		IssuedBy: r.IssuedBy, IssuedAt: r.IssuedAt, StartedAt: r.StartedAt, WorkflowID: r.WorkflowID,
	}
}
