package server

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/ratelimit"
	"github.com/headshotpro/retryd/internal/store"
)

// The admin pages: the dashboard an admin follows in the "Issuing Retries" help page,
// served as HTML by the same Gin server (see docs/admin-pages.md). They read through
// package store like the JSON API, and every change (give retry, restart, resend email)
// runs the JSON API's own handler, so rules, audit and Idempotency-Key are the API's.
var (
	//go:embed web/admin/*.html
	adminTemplateFiles embed.FS
	//go:embed web/admin/admin.css
	adminCSS []byte
	//go:embed web/admin/admin.js
	adminJS []byte
	//go:embed web/admin/favicon.svg
	adminIcon []byte
)

// pages holds what the page handlers share besides the Server.
type pages struct {
	s          *Server
	tmpl       map[string]*template.Template
	loginLimit *ratelimit.Limiter
	ttl        time.Duration
	secure     bool
}

// defaultSessionTTL is how long a sign-in lasts: a working day.
const defaultSessionTTL = 8 * time.Hour

func newPages(s *Server) *pages {
	ttl := s.cfg.SessionTTL
	if ttl <= 0 {
		ttl = defaultSessionTTL
	}
	return &pages{
		s:    s,
		tmpl: parsePageTemplates(),
		// Sign-in attempts are limited per client so that keys cannot be guessed quickly.
		loginLimit: ratelimit.New(10.0/60, 10, s.now),
		ttl:        ttl,
		secure:     strings.HasPrefix(s.cfg.AppBaseURL, "https://"),
	}
}

// parsePageTemplates parses each page together with the layout. The templates are
// embedded, so a parse error is a build defect that any test starting the server finds.
func parsePageTemplates() map[string]*template.Template {
	funcs := template.FuncMap{
		"when":            formatWhen,
		"datetime":        formatDateTime,
		"status":          statusLabel,
		"words":           wordsLabel,
		"endpointActions": newEndpointActions,
	}
	names, err := fs.Glob(adminTemplateFiles, "web/admin/*.html")
	if err != nil {
		panic(err)
	}
	// Files named _*.html hold parts several pages share; every page gets them.
	shared := []string{"web/admin/layout.html"}
	for _, n := range names {
		if strings.HasPrefix(n, "web/admin/_") {
			shared = append(shared, n)
		}
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "web/admin/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		out[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(adminTemplateFiles, append(shared, n)...))
	}
	return out
}

func (s *Server) pageRoutes(e *gin.Engine) {
	p := newPages(s)
	e.GET("/app/admin/admin.css", p.static("text/css; charset=utf-8", adminCSS))
	e.GET("/app/admin/admin.js", p.static("text/javascript; charset=utf-8", adminJS))
	// Browsers ask for /favicon.ico on every site; the pages also name it in layout.html.
	e.GET("/favicon.ico", p.static("image/svg+xml", adminIcon))
	e.GET("/app/login", p.getLogin)
	e.POST("/app/login", p.postLogin)
	e.POST("/app/logout", p.requireSession, p.requireCSRF, p.postLogout)

	e.GET("/app/admin", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/app/admin/headshots") })

	admin := e.Group("/app/admin", p.requireSession)
	admin.GET("/headshots", p.getDashboard)
	admin.GET("/members/:id", p.getMemberPage)
	admin.GET("/members/:id/retry", p.getRetryConfirm)
	admin.POST("/members/:id/retries", p.requireCSRF, p.postRetryForm)
	admin.POST("/members/:id/restarts", p.requireCSRF, p.postRestartForm)
	admin.POST("/restarts", p.requireCSRF, p.postBulkRestartForm)
	admin.POST("/members/:id/retries/:retry_id/resend-email", p.requireCSRF, p.postResendForm)
	admin.GET("/activity", p.getActivity)
	admin.GET("/activity.csv", p.getActivityCSV)
	p.webhookRoutes(admin)
}

func (p *pages) static(contentType string, body []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		adminPageHeaders(c)
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, contentType, body)
	}
}

// adminPageHeaders: no caching of pages that show members' data, no framing (the
// buttons must not be clickjacked), and scripts and styles only from this origin.
func adminPageHeaders(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "same-origin")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("X-Frame-Options", "DENY")
	c.Header("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// pageView is what every page template gets; Page is the page's own data.
type pageView struct {
	Title    string
	Org      *store.OrgHeader
	CSRF     string
	SignedIn bool
	Page     any
}

// render writes a page. It renders into a buffer first so that a template error becomes
// an error page instead of half a page.
func (p *pages) render(c *gin.Context, status int, name string, v pageView) {
	if sp := sessionOf(c); sp != nil {
		v.CSRF, v.SignedIn = sp.CSRFToken, true
		if v.Org == nil {
			if org, err := store.GetOrgHeader(c.Request.Context(), p.s.db, sp.OrgID); err == nil {
				v.Org = org
			}
		}
	}
	var buf bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		p.s.log.ErrorContext(c.Request.Context(), "render page", "request_id", requestID(c), "page", name, "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!DOCTYPE html><title>Error</title><p>The page could not be shown; quote request id " + template.HTMLEscapeString(requestID(c)) + ".</p>")
	}
	adminPageHeaders(c)
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// errorView is the page shown for a refusal or an error, in words an admin can act on.
type errorView struct {
	Heading string
	Message string
	Code    string // the problem code, kept in the page for support and tests
	Back    string
}

func (p *pages) renderError(c *gin.Context, status int, code, heading, message string) {
	p.render(c, status, "error", pageView{Title: heading, Page: errorView{Heading: heading, Message: message, Code: code, Back: "/app/admin/headshots"}})
	c.Abort()
}

// dateTimeLayout is how the pages write an instant: always with its zone, since an admin
// reading "6 Dec" cannot otherwise tell whose day it is. The pages do not know the
// admin's zone, so they say UTC.
const dateTimeLayout = "2 Jan 2006, 15:04 UTC"

// formatWhen writes an instant as a <time> element: the words, and the exact instant for
// assistive tools and scripts.
func formatWhen(t *time.Time) template.HTML {
	if t == nil {
		return ""
	}
	u := t.UTC()
	return template.HTML(`<time datetime="` + u.Format(time.RFC3339) + `">` + u.Format(dateTimeLayout) + `</time>`)
}

func formatDateTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		return v.UTC().Format(dateTimeLayout)
	case *time.Time:
		if v == nil {
			return "—"
		}
		return v.UTC().Format(dateTimeLayout)
	}
	return ""
}

// statusLabel is a shoot status as the dashboard shows it.
func statusLabel(status string) string {
	switch status {
	case domain.ShootActive:
		return "Finished"
	case domain.ShootOnboarding:
		return "Onboarding"
	case domain.ShootWaiting:
		return "Waiting for photos"
	case domain.ShootPending:
		return "Pending"
	case domain.ShootGeneratingHeadshots:
		return "Generating headshots"
	case domain.ShootFailed:
		return "Failed"
	case domain.ShootDeleted:
		return "Deleted"
	}
	return status
}

// wordsLabel turns a stored code (free_retry, email status, stage) into words.
func wordsLabel(code string) string {
	switch code {
	case "free_retry":
		return "Free retry"
	case "retry_credit":
		return "Retry credit"
	case domain.EmailNotApplicable:
		return "No email (no address)"
	case "":
		return "—"
	}
	s := strings.ReplaceAll(code, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}
