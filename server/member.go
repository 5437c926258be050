package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// memberClaims checks the link token of a member call and that it is for this shoot.
func (s *Server) memberClaims(c *gin.Context) (linktoken.Claims, bool) {
	shootID, ok := s.pathUUID(c, "id")
	if !ok {
		return linktoken.Claims{}, false
	}
	tok, ok := apikey.FromAuthorization(c.GetHeader("Authorization"))
	if !ok {
		s.abort(c, problem.InvalidToken, "send the token from your link as Authorization: Bearer <token>; ask for a fresh link if you lost it")
		return linktoken.Claims{}, false
	}
	claims, err := s.links.Verify(tok, s.now())
	switch {
	case errors.Is(err, linktoken.ErrExpired):
		s.abort(c, problem.TokenExpired, "this link has expired; ask for a fresh link")
		return linktoken.Claims{}, false
	case err != nil || claims.ShootID != shootID:
		s.abort(c, problem.InvalidToken, "this link is not valid for this shoot; ask for a fresh link")
		return linktoken.Claims{}, false
	}
	return claims, true
}

func (s *Server) postStart(c *gin.Context) {
	claims, ok := s.memberClaims(c)
	if !ok {
		return
	}
	st, err := store.StartShoot(c.Request.Context(), s.db, claims.MemberID, claims.ShootID, requestID(c), s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	s.signalStarted(c.Request.Context(), st)
	s.memberAnswer(c, st)
}

func (s *Server) postSubmit(c *gin.Context) {
	claims, ok := s.memberClaims(c)
	if !ok {
		return
	}
	st, err := store.SubmitShoot(c.Request.Context(), s.db, claims.MemberID, claims.ShootID, requestID(c), s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	s.signalStarted(c.Request.Context(), st)
	s.memberAnswer(c, st)
}

func (s *Server) memberAnswer(c *gin.Context, st *store.Started) {
	n, err := store.ShootResultCount(c.Request.Context(), s.db, st.Shoot.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := gin.H{"shoot": toShoot(st.Shoot, n), "credit_charged": st.Charged, "retry": nil, "restart": nil}
	if st.Retry != nil {
		r, err := store.GetRetry(c.Request.Context(), s.db, st.Retry.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		out["retry"] = toRetry(r)
	}
	if st.Restart != nil {
		out["restart"] = toRestart(st.Restart)
	}
	c.JSON(http.StatusOK, out)
}

// signalStarted tells the waiting workflows. The database already says started, which
// is what the API shows; a lost signal is repaired by the workflow itself, whose next
// reminder finds the retry started and ends the wait.
func (s *Server) signalStarted(ctx context.Context, st *store.Started) {
	signal := func(id string) {
		err := s.tc.SignalWorkflow(ctx, id, "", workflows.SignalShootStarted, nil)
		var nf *serviceerror.NotFound
		if err != nil && !errors.As(err, &nf) {
			s.log.WarnContext(ctx, "could not signal workflow", "workflow_id", id, "error", err)
		}
	}
	if st.Retry != nil {
		s.metrics.RetryStarted()
		signal(st.Retry.WorkflowID)
	}
	if st.Restart != nil {
		s.metrics.RestartStarted()
		signal(st.Restart.WorkflowID)
	}
}

type completeRequest struct {
	Results []struct {
		StorageKey string `json:"storage_key"`
	} `json:"results"`
	ResultCount *int `json:"result_count"`
}

const maxResults = 200

func (s *Server) postComplete(c *gin.Context) {
	shootID, ok := s.pathUUID(c, "id")
	if !ok {
		return
	}
	body, err := readBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req completeRequest
	if err := decodeJSON(body, &req, true); err != nil {
		s.fail(c, err)
		return
	}
	keys := make([]string, 0, len(req.Results))
	for i, r := range req.Results {
		if r.StorageKey == "" || len(r.StorageKey) > 1024 {
			s.abort(c, problem.InvalidBody, "results[%d].storage_key must be 1 to 1024 characters", i)
			return
		}
		keys = append(keys, r.StorageKey)
	}
	if req.ResultCount != nil {
		if *req.ResultCount < 0 || *req.ResultCount > maxResults || (len(keys) > 0 && *req.ResultCount != len(keys)) {
			s.abort(c, problem.InvalidBody, "result_count must be 0 to %d and match results when both are given", maxResults)
			return
		}
		for i := len(keys); i < *req.ResultCount; i++ {
			keys = append(keys, "results/"+shootID+"/"+strconv.Itoa(i+1)+".jpg")
		}
	}
	if len(keys) > maxResults {
		s.abort(c, problem.InvalidBody, "at most %d results", maxResults)
		return
	}
	sh, err := store.CompleteShoot(c.Request.Context(), s.db, shootID, keys, requestID(c), s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"shoot": toShoot(sh, len(keys))})
}

func (s *Server) postFail(c *gin.Context) {
	shootID, ok := s.pathUUID(c, "id")
	if !ok {
		return
	}
	sh, err := store.FailShoot(c.Request.Context(), s.db, shootID, requestID(c), s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	n, err := store.ShootResultCount(c.Request.Context(), s.db, shootID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"shoot": toShoot(sh, n)})
}
