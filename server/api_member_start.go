package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
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

// memberAnswer is what the member's own calls answer: their shoot and the retry or
// restart the call started, in the member's own shape (memberWorkDTO).
func (s *Server) memberAnswer(c *gin.Context, st *store.Started) {
	out := memberShootAnswer{Shoot: toShoot(st.Shoot, st.ResultCount), CreditCharged: st.Charged}
	if st.Retry != nil {
		out.Retry = toMemberRetry(st.Retry)
	}
	if st.Restart != nil {
		out.Restart = toMemberRestart(st.Restart)
	}
	c.JSON(http.StatusOK, out)
}

// signalStarted tells the waiting workflows. The database already says started, which
// is what the API shows. The signal outlives a member who closes the page right away
// (the request's cancellation is not passed on). One lost with a process that died
// after the commit is sent again by the member's repeated start (store.Started.Waiting);
// failing that, the workflow's next reminder or start check finds the retry started.
func (s *Server) signalStarted(ctx context.Context, st *store.Started) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if st.Retry != nil {
		s.metrics.RetryStarted()
	}
	if st.Restart != nil {
		s.metrics.RestartStarted()
	}
	for _, id := range st.Waiting {
		if err := s.workflows.SignalStarted(ctx, id); err != nil {
			s.log.WarnContext(ctx, "could not signal workflow", "workflow_id", id, "error", err)
		}
	}
}

// completeRequest is the pipeline's report. results may list the photos (as storage
// keys or URLs, plain strings or {"storage_key"|"url": …} objects) or just count them,
// as a seed file does; result_count counts them too.
type completeRequest struct {
	Results     json.RawMessage `json:"results"`
	ResultCount *int            `json:"result_count"`
}

const maxResults = 200

// resultKeys turns the report into storage keys, generating keys for counted results.
func (r *completeRequest) resultKeys(shootID string) ([]string, error) {
	var keys []string
	count, counted := 0, false
	if raw := bytes.TrimSpace(r.Results); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		var items []json.RawMessage
		switch {
		case json.Unmarshal(raw, &count) == nil:
			counted = true
		case json.Unmarshal(raw, &items) == nil:
			for i, item := range items {
				key, ok := resultKey(item)
				if !ok {
					return nil, problem.New(problem.InvalidBody, "results[%d] must be a storage key or URL of 1 to 1024 characters, or an object with storage_key or url", i)
				}
				keys = append(keys, key)
			}
		default:
			return nil, problem.New(problem.InvalidBody, "results must be a list of storage keys or URLs, or a number")
		}
	}
	if r.ResultCount != nil {
		if (counted && count != *r.ResultCount) || (len(keys) > 0 && len(keys) != *r.ResultCount) {
			return nil, problem.New(problem.InvalidBody, "result_count does not match results")
		}
		count, counted = *r.ResultCount, true
	}
	if count < 0 || count > maxResults || len(keys) > maxResults {
		return nil, problem.New(problem.InvalidBody, "a shoot has 0 to %d results", maxResults)
	}
	for i := len(keys); counted && i < count; i++ {
		keys = append(keys, "results/"+shootID+"/"+strconv.Itoa(i+1)+".jpg")
	}
	return keys, nil
}

func resultKey(item json.RawMessage) (string, bool) {
	var key string
	if json.Unmarshal(item, &key) != nil {
		var obj struct {
			StorageKey string `json:"storage_key"`
			URL        string `json:"url"`
		}
		if json.Unmarshal(item, &obj) != nil {
			return "", false
		}
		key = obj.StorageKey
		if key == "" {
			key = obj.URL
		}
	}
	return key, key != "" && len(key) <= 1024
}

func (s *Server) postComplete(c *gin.Context) {
	shootID, ok := s.pathUUID(c, "id")
	if !ok {
		return
	}
	var req completeRequest
	if _, ok := s.bindJSON(c, &req, true); !ok {
		return
	}
	keys, err := req.resultKeys(shootID)
	if err != nil {
		s.fail(c, err)
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
