package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// linkedAnswer is an answer that carries member access links (a restart or a retry of a
// member without email). A link is a live credential for 30 days, and stored answers sit
// in Postgres in plain text, where sessions are kept hashed: so an Idempotency-Key stores
// the answer without its links, and every answer sent, the first and each replay, gets
// them signed afresh by signLinks.
type linkedAnswer interface {
	signLinks(sign func(memberID, shootID string) string)
}

// sealedAnswer is an answer that shows a secret once: a new webhook endpoint's signing
// secret. Like links, the secret is not stored with the answer under an Idempotency-Key;
// reveal puts it in every answer sent, the first from memory and a replay by reading it
// again, while it is still the secret that answer made.
type sealedAnswer interface {
	reveal(ctx context.Context) error
}

// accessLink is a freshly signed link for the member to start the shoot.
func (s *Server) accessLink(memberID, shootID string) string {
	token, _ := s.links.Issue(memberID, shootID, s.now())
	return linktoken.ActionURL(s.cfg.AppBaseURL, shootID, token)
}

// idempotentLinked runs do once per Idempotency-Key. The key is claimed before do runs,
// with a hash of the request (method, path and the JSON body, whatever its formatting):
// another request with the same key and another body is refused however the two interleave.
// The same request again replays the stored answer, or, while there is none, runs do
// again, which attaches to the work of the first (the ids of what do creates derive
// from the key). Refusals are stored, so a replay never acts on a refused request;
// answers do marks as not final, and server errors, are not: a 5xx is never final, and
// the same key completes the request once the dependencies are back.
//
// Every route that takes the key answers with links in some cases (a restart, or a give
// of a retry, of a member without email), so it is the one entry point: do's payload,
// when it is a linkedAnswer, is stored without links, and newAnswer gives the value a
// stored success answer is read back into, to sign its links again. An answer stored
// with its links, as they were before, replays the same way (the fresh links replace the
// stored ones). A sealedAnswer is stored without its secret and revealed the same way.
func (s *Server) idempotentLinked(c *gin.Context, body []byte, newAnswer func() any, do func() (status int, payload any, final bool, err error)) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		s.respond(c, do)
		return
	}
	if len(key) > 255 || !validText(key) {
		s.abort(c, problem.InvalidParameter, "Idempotency-Key must be at most 255 characters of text")
		return
	}
	ctx := c.Request.Context()
	orgID := principal(c).OrgID
	sum := sha256.Sum256(append([]byte(c.Request.Method+" "+c.Request.URL.Path+"\n"), canonicalJSON(body)...))
	hash := hex.EncodeToString(sum[:])
	claim, err := store.ClaimIdempotencyKey(ctx, s.db, orgID, key, c.FullPath(), hash, s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	if claim.RequestHash != hash {
		s.abort(c, problem.IdempotencyKeyReused, "this Idempotency-Key was used with a different request")
		return
	}
	// The ids of what the request creates derive from the key and this claim, so a key
	// used again after it expired creates anew instead of finding the old records.
	c.Set(ctxIdempotencyScope, key+"@"+claim.CreatedAt.UTC().Format(time.RFC3339Nano))
	if claim.StatusCode != nil {
		c.Header("Idempotent-Replayed", "true")
		c.Data(*claim.StatusCode, contentTypeFor(*claim.StatusCode), s.relink(c, *claim.StatusCode, claim.Response, newAnswer))
		return
	}
	status, payload, final, err := do()
	if err != nil {
		pe, ok := problem.As(err)
		if !ok || pe.Code.Status() >= 500 {
			s.fail(c, err)
			return
		}
		status, payload = pe.Code.Status(), s.problemFor(c, pe)
	}
	// Marshaled before the links are signed: this is what is stored.
	raw, err := json.Marshal(payload)
	if err != nil {
		s.fail(c, err)
		return
	}
	if final {
		if err := store.SaveIdempotentResponse(ctx, s.db, orgID, key, hash, status, raw); err != nil {
			// The answer stands; a replay runs the request again and attaches to its work.
			s.log.WarnContext(ctx, "could not store idempotent response", "request_id", requestID(c), "error", err)
		}
	}
	if completable(payload) {
		if err := s.complete(ctx, payload); err != nil {
			s.fail(c, err)
			return
		}
		if raw, err = json.Marshal(payload); err != nil {
			s.fail(c, err)
			return
		}
	}
	c.Data(status, contentTypeFor(status), raw)
}

// completable tells whether an answer has parts that complete adds.
func completable(payload any) bool {
	switch payload.(type) {
	case linkedAnswer, sealedAnswer:
		return true
	}
	return false
}

// complete adds to an answer what is not stored with it: fresh links, a secret.
func (s *Server) complete(ctx context.Context, payload any) error {
	if la, ok := payload.(linkedAnswer); ok {
		la.signLinks(s.accessLink)
	}
	if sa, ok := payload.(sealedAnswer); ok {
		return sa.reveal(ctx)
	}
	return nil
}

// relink is a stored answer as it is sent again: a success of a route whose answers
// carry links is read back and gets its links signed afresh; anything else is sent as
// it was stored.
func (s *Server) relink(c *gin.Context, status int, stored []byte, newAnswer func() any) []byte {
	if newAnswer == nil || status >= 300 {
		return stored
	}
	a := newAnswer()
	if err := json.Unmarshal(stored, a); err != nil {
		s.log.WarnContext(c.Request.Context(), "stored answer not readable; replayed as stored", "request_id", requestID(c), "error", err)
		return stored
	}
	if err := s.complete(c.Request.Context(), a); err != nil {
		s.log.WarnContext(c.Request.Context(), "stored answer not completed; replayed as stored", "request_id", requestID(c), "error", err)
		return stored
	}
	out, err := json.Marshal(a)
	if err != nil {
		s.log.WarnContext(c.Request.Context(), "stored answer not writable; replayed as stored", "request_id", requestID(c), "error", err)
		return stored
	}
	return out
}

func contentTypeFor(status int) string {
	if status >= 400 {
		return problemContentType
	}
	return "application/json"
}

func (s *Server) respond(c *gin.Context, do func() (int, any, bool, error)) {
	status, payload, _, err := do()
	if err == nil {
		err = s.complete(c.Request.Context(), payload)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, payload)
}

// SweepIdempotencyKeys deletes expired keys every interval until ctx ends. Lookups treat
// an expired key as unknown on their own; the sweep only keeps the table small. Every
// replica may run it: the batches are small and deleting twice is harmless.
func (s *Server) SweepIdempotencyKeys(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for {
			n, err := store.DeleteExpiredIdempotencyKeys(ctx, s.db, s.now(), 1000)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "could not delete expired idempotency keys", "error", err)
				}
				break
			}
			if n < 1000 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ctxIdempotencyScope holds the claimed key and its claim time for idempotencyScope.
const ctxIdempotencyScope = "retryd.idempotency_scope"

// idempotencyScope names the claim of this request's Idempotency-Key, or "" without one.
// Requests with one key share it while the key lives; the key claimed again after it
// expired gets another.
func idempotencyScope(c *gin.Context) string { return c.GetString(ctxIdempotencyScope) }
