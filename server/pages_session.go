package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

const (
	sessionCookie = "retryd_session"
	// loginCookie carries the sign-in form's CSRF value before a session exists
	// (double-submit: the form field must equal the cookie).
	loginCookie = "retryd_login"
	ctxSession  = "retryd.session"
)

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is what the database keeps of a session token, so a leaked table holds no
// usable session.
func hashToken(tok string) []byte {
	sum := sha256.Sum256([]byte("retryd-session:" + tok))
	return sum[:]
}

func sessionOf(c *gin.Context) *store.SessionPrincipal {
	v, _ := c.Get(ctxSession)
	sp, _ := v.(*store.SessionPrincipal)
	return sp
}

func (p *pages) setCookie(c *gin.Context, name, value string, maxAge int, path string) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	})
}

// requireSession resolves the session cookie to its admin principal. Without one, the
// browser is sent to sign in and brought back afterwards.
func (p *pages) requireSession(c *gin.Context) {
	if tok, err := c.Cookie(sessionCookie); err == nil && tok != "" {
		sp, err := store.FindAdminSession(c.Request.Context(), p.s.db, hashToken(tok), p.s.now())
		if err == nil {
			c.Set(ctxSession, sp)
			c.Set(ctxPrincipal, &sp.Principal)
			c.Next()
			return
		}
		if pe, ok := problem.As(err); !ok || pe.Code != problem.NotFound {
			p.s.log.ErrorContext(c.Request.Context(), "session lookup failed", "request_id", requestID(c), "error", err)
			p.renderError(c, http.StatusServiceUnavailable, string(problem.Unavailable), "Please try again", "The service could not check your sign-in just now. Try again in a moment.")
			return
		}
	}
	next := ""
	if c.Request.Method == http.MethodGet {
		next = c.Request.URL.RequestURI()
	}
	c.Redirect(http.StatusSeeOther, loginURL(next))
	c.Abort()
}

func loginURL(next string) string {
	if next == "" {
		return "/app/login"
	}
	return "/app/login?next=" + url.QueryEscape(next)
}

// safeNext keeps the return address on the admin pages, so the sign-in form cannot be
// used to send an admin to another site.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/app/admin/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/app/admin/headshots"
}

// requireCSRF checks the form's token against the session's.
func (p *pages) requireCSRF(c *gin.Context) {
	sp := sessionOf(c)
	got := c.PostForm("csrf")
	if sp == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sp.CSRFToken)) != 1 {
		p.renderError(c, http.StatusForbidden, "csrf_token_invalid", "This form has expired",
			"The form was not sent from this session's pages, so nothing was changed. Go back, reload the page and try again.")
		return
	}
	c.Next()
}

type loginView struct {
	Next      string
	LoginCSRF string
	Error     string
	Info      string
}

func (p *pages) getLogin(c *gin.Context) {
	if tok, err := c.Cookie(sessionCookie); err == nil && tok != "" {
		if _, err := store.FindAdminSession(c.Request.Context(), p.s.db, hashToken(tok), p.s.now()); err == nil {
			c.Redirect(http.StatusSeeOther, safeNext(c.Query("next")))
			return
		}
	}
	p.showLogin(c, http.StatusOK, "")
}

func (p *pages) showLogin(c *gin.Context, status int, msg string) {
	csrf := randomToken()
	p.setCookie(c, loginCookie, csrf, 3600, "/app/login")
	next := c.Query("next")
	if c.Request.Method == http.MethodPost {
		next = c.PostForm("next")
	}
	v := loginView{Next: safeNext(next), LoginCSRF: csrf, Error: msg}
	if c.Query("signed_out") != "" && msg == "" {
		v.Info = "You are signed out."
	}
	p.render(c, status, "login", pageView{Title: "Sign in", Page: v})
}

// postLogin signs in with an admin API key. Automation keys and member link tokens are
// refused: the pages act as an admin, and the audit log names that admin.
func (p *pages) postLogin(c *gin.Context) {
	cookie, _ := c.Cookie(loginCookie)
	form := c.PostForm("csrf")
	if cookie == "" || subtle.ConstantTimeCompare([]byte(form), []byte(cookie)) != 1 {
		p.showLogin(c, http.StatusForbidden, "The sign-in form expired. Please enter your key again.")
		return
	}
	if ok, _ := p.loginLimit.Allow(c.ClientIP()); !ok {
		p.showLogin(c, http.StatusTooManyRequests, "Too many sign-in attempts. Wait a minute and try again.")
		return
	}
	key := strings.TrimSpace(c.PostForm("api_key"))
	if key == "" {
		p.s.metrics.AuthFailure(metrics.AuthMissing)
		p.showLogin(c, http.StatusBadRequest, "Enter your admin API key.")
		return
	}
	ctx := c.Request.Context()
	// The API's own key check: failures here and there spend one allowance per address.
	pr, err := p.s.resolveKey(ctx, c.ClientIP(), key)
	var throttled *throttledError
	switch {
	case errors.Is(err, errUnknownKey):
		msg := "This key is not valid or was revoked."
		if _, verr := p.s.links.Verify(key, p.s.now()); verr == nil || errors.Is(verr, linktoken.ErrExpired) {
			msg = "This is a member's link token. Sign in with an admin API key."
		}
		p.showLogin(c, http.StatusUnauthorized, msg)
		return
	case errors.As(err, &throttled):
		secs := throttled.retryAfter()
		c.Header("Retry-After", strconv.Itoa(secs))
		p.showLogin(c, http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins from your address. Wait %d seconds and try again.", secs))
		return
	case err != nil:
		p.s.log.ErrorContext(ctx, "sign-in failed", "request_id", requestID(c), "error", err)
		p.showLogin(c, http.StatusServiceUnavailable, "The service could not check the key just now. Try again in a moment.")
		return
	case pr.Role != "admin":
		p.showLogin(c, http.StatusForbidden, "This is an automation key. Sign in with an admin API key.")
		return
	}
	tok := randomToken()
	now := p.s.now()
	// The sign-in is done with the key: the audit log names the key, and the session as
	// its target.
	c.Set(ctxPrincipal, &pr)
	if err := store.CreateAdminSession(ctx, p.s.db, pr.OrgID, &store.AdminSession{
		TokenHash: hashToken(tok), ID: uuid.NewString(), KeyID: pr.KeyID, CSRFToken: randomToken(), ExpiresAt: now.Add(p.ttl),
	}, now, actor(c)); err != nil {
		p.s.log.ErrorContext(ctx, "create session failed", "request_id", requestID(c), "error", err)
		p.showLogin(c, http.StatusServiceUnavailable, "The service could not sign you in just now. Try again in a moment.")
		return
	}
	p.setCookie(c, loginCookie, "", -1, "/app/login")
	p.setCookie(c, sessionCookie, tok, int(p.ttl.Seconds()), "/app/")
	c.Redirect(http.StatusSeeOther, safeNext(c.PostForm("next")))
}

func (p *pages) postLogout(c *gin.Context) {
	if tok, err := c.Cookie(sessionCookie); err == nil {
		if err := store.DeleteAdminSession(c.Request.Context(), p.s.db, principal(c).OrgID, hashToken(tok), actor(c)); err != nil {
			p.s.log.ErrorContext(c.Request.Context(), "delete session failed", "request_id", requestID(c), "error", err)
		}
	}
	p.setCookie(c, sessionCookie, "", -1, "/app/")
	c.Redirect(http.StatusSeeOther, "/app/login?signed_out=1")
}
