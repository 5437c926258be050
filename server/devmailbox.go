package server

import (
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/problem"
)

// devRoutes serves the local MailerSend endpoint, its faults and the mailbox. The mailbox
// holds every member's live link, so the routes answer only clients presenting the
// mailbox token (the worker, as its MailerSend key) and, under `retryd dev` alone, this
// host's clients; to anyone else they do not exist.
func (s *Server) devRoutes(e *gin.Engine) {
	dev := e.Group("/dev", s.devOnly)
	dev.GET("/mailbox", s.getMailbox)
	dev.POST("/mailersend/v1/email", gin.WrapH(http.StripPrefix("/dev/mailersend", s.mailbox.Handler())))
	dev.GET("/mailersend/faults", s.getMailFault)
	dev.PUT("/mailersend/faults", s.putMailFault)
	dev.DELETE("/mailersend/faults", s.deleteMailFault)
}

func (s *Server) devOnly(c *gin.Context) {
	if s.devTokenPresented(c.Request) || (s.cfg.DevLoopback && fromThisHost(c.Request)) {
		c.Next()
		return
	}
	s.abort(c, problem.RouteNotFound, "no route %s %s", c.Request.Method, c.Request.URL.Path)
}

func (s *Server) devTokenPresented(r *http.Request) bool {
	want := s.cfg.DevMailboxToken
	if want == "" {
		return false
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) == 1
}

// fromThisHost trusts the connection's own address, never a header, and refuses any
// request a proxy says it forwarded. A proxy that says nothing still looks local, which
// is why only dev, whose API binds to loopback, accepts this check alone.
func fromThisHost(r *http.Request) bool {
	for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) getMailbox(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"messages": s.mailbox.Messages()})
}

func (s *Server) getMailFault(c *gin.Context) {
	c.JSON(http.StatusOK, s.mailbox.Fault())
}

func (s *Server) putMailFault(c *gin.Context) {
	var f devmailbox.Fault
	if _, ok := s.bindJSON(c, &f, false); !ok {
		return
	}
	if err := s.mailbox.SetFault(f); err != nil {
		var fe *devmailbox.FaultError
		if errors.As(err, &fe) {
			s.abort(c, problem.InvalidBody, "%s", fe.Reason)
			return
		}
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, s.mailbox.Fault())
}

func (s *Server) deleteMailFault(c *gin.Context) {
	s.mailbox.ClearFault()
	c.Status(http.StatusNoContent)
}
