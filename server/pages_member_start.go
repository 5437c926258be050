package server

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// The member's landing page for the emailed action link: a button that starts the shoot
// through the member API, and a way to ask for a fresh link when the token is bad or
// expired. The product's real member app may replace it; the link format stays.
var (
	//go:embed web/start.html
	startPage []byte
	//go:embed web/start.js
	startScript []byte
)

// pageHeaders keep the token in the page's address from leaking: no referrer, no
// caching, no framing, and scripts only from this origin.
func pageHeaders(c *gin.Context) {
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("X-Frame-Options", "DENY")
	c.Header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
}

func (s *Server) getStartPage(c *gin.Context) {
	if _, ok := s.pathUUID(c, "id"); !ok {
		return
	}
	pageHeaders(c)
	c.Data(http.StatusOK, "text/html; charset=utf-8", startPage)
}

func (s *Server) getStartScript(c *gin.Context) {
	pageHeaders(c)
	c.Data(http.StatusOK, "text/javascript; charset=utf-8", startScript)
}
