package server

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/problem"
)

// An oversized body is answered 413 and then drained, within these bounds, before the
// connection closes: nginx's lingering close. Many clients (Python's urllib, most SDKs)
// write the whole body before reading the answer. If the server closed with part of it
// unread, the kernel would answer that data with a TCP reset, and a reset destroys the
// 413 still waiting in the client's receive buffer: the client saw "connection reset"
// instead of the problem. The bounds keep a client from holding a handler indefinitely.
const (
	lingerBytes   = 8 << 20
	lingerTimeout = 5 * time.Second
)

// limitBody bounds every request body to maxBodyBytes. A declared Content-Length over
// the limit is refused before any handler runs; a body without one (chunked) is refused
// by the handler reading it, when the limit is crossed.
func (s *Server) limitBody(c *gin.Context) {
	body := c.Request.Body
	if body == nil || body == http.NoBody {
		c.Next()
		return
	}
	if c.Request.ContentLength > maxBodyBytes {
		c.Header("Connection", "close")
		s.abort(c, problem.PayloadTooLarge, "the request body is larger than %d bytes", maxBodyBytes)
		s.linger(c, body)
		return
	}
	lb := &limitedBody{ReadCloser: http.MaxBytesReader(c.Writer, body, maxBodyBytes), header: c.Writer.Header()}
	c.Request.Body = lb
	c.Next()
	if lb.exceeded {
		s.linger(c, body)
	}
}

// limitedBody notes when a read crosses the limit, so the middleware knows to drain. The
// handler reads it on the request's goroutine, the same one that checks exceeded.
type limitedBody struct {
	io.ReadCloser
	header   http.Header
	exceeded bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var maxErr *http.MaxBytesError
	if err != nil && !b.exceeded && errors.As(err, &maxErr) {
		b.exceeded = true
		// The rest of the body is not read for a next request: the connection ends
		// after this answer. net/http does this itself only for its own writer.
		b.header.Set("Connection", "close")
	}
	return n, err
}

// linger sends the answer already written, then reads and discards what is left of the
// body, bounded in bytes and time, so the connection closes with nothing unread.
func (s *Server) linger(c *gin.Context, body io.Reader) {
	rc := http.NewResponseController(c.Writer)
	// Flushed first, so a client that reads while it writes has the answer at once.
	if err := rc.Flush(); err != nil {
		return
	}
	// Best effort: a writer without deadlines still drains, bounded in bytes.
	_ = rc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.CopyN(io.Discard, body, lingerBytes)
}
