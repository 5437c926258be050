package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/problem"
)

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
