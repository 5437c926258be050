// Package mailer sends the service's emails through MailerSend's Go client and
// renders their bodies from embedded templates.
//
// Without an API key the same client is pointed at the local endpoint
// (package devmailbox) by rewriting its requests, so development and tests drive
// the exact code path production uses.
package mailer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailersend/mailersend-go"
)

const (
	// DefaultTimeout bounds one HTTP call when Config.Timeout is unset, because
	// mailersend-go's default client has none and a hung connection would
	// otherwise hold an activity until its own timeout.
	DefaultTimeout = 10 * time.Second

	// localAPIKey is the bearer sent to the local endpoint when Config.LocalToken
	// is unset; the endpoint then only checks that one is present.
	localAPIKey = "local-dev"

	// apiHost and apiPathPrefix identify the requests the local transport may
	// rewrite; mailersend-go hard-codes https://api.mailersend.com/v1.
	apiHost       = "api.mailersend.com"
	apiPathPrefix = "/v1/"

	// maxRetryAfter caps a server-supplied delay so a bogus header cannot
	// overflow time.Duration or park a retry for months.
	maxRetryAfter = 7 * 24 * time.Hour

	// maxErrorMessage keeps a provider message short enough for logs and
	// database columns.
	maxErrorMessage = 300

	// authRetryDelay is the least delay before retrying after a 401 or 403. A
	// wrong key or a suspended account is fixed by a person, not in seconds;
	// the activity's ordinary backoff would spend its first attempts (and the
	// account's request quota) within a minute, so retries start slow.
	authRetryDelay = 5 * time.Minute

	// rateLimitRetryDelay is the delay after a 429 that names none. MailerSend counts
	// requests per minute, so retrying sooner only spends the next attempts inside the
	// same spent window, each one another 429.
	rateLimitRetryDelay = time.Minute

	// maxSuccessBody bounds how much of a 2xx answer is read for warnings.
	maxSuccessBody = 64 << 10

	// maxWarnings bounds how many provider warnings one log line carries.
	maxWarnings = 10
)

// NoMessageID is the id Send returns for a message MailerSend accepted (2xx)
// without an X-Message-Id header. It is deliberately empty rather than a
// made-up marker: there is nothing to look up at MailerSend, and an empty id
// still means "delivered" to the caller, which must not send again. MailerSend
// omits the id when it accepted the request but sent nothing, e.g. because
// every recipient is suppressed; the answer then carries "warnings", which
// Send logs.
const NoMessageID = ""

// AuthAlerts is told about every 401 or 403 from MailerSend, so an operator
// hears that the API key or the account is broken while the retries go on.
// *metrics.Metrics implements it with retryd_email_provider_auth_failures_total.
type AuthAlerts interface {
	EmailProviderAuthFailure(status int)
}

// Address is an email address with an optional display name.
type Address struct {
	Email string
	Name  string
}

// Content is a rendered email: the subject and both bodies.
type Content struct {
	Subject string
	HTML    string
	Text    string
}

// Message is one email to one recipient.
type Message struct {
	To Address
	Content
	Tags []string
}

// Config selects and configures the MailerSend backend.
type Config struct {
	// APIKey selects the real MailerSend API. When set, LocalURL is ignored.
	APIKey string
	// LocalURL is used when APIKey is empty: the base URL of the local
	// endpoint, e.g. "http://127.0.0.1:8080/dev/mailersend". Requests to
	// https://api.mailersend.com/v1/... go to LocalURL + "/v1/...".
	LocalURL string
	// LocalToken is the bearer for the local endpoint when it is reached from
	// another host, where the API refuses requests without the mailbox token.
	LocalToken string
	// From is the sender of every message; From.Email is required.
	From Address
	// Timeout bounds each HTTP call; DefaultTimeout when zero or negative.
	Timeout time.Duration
	// Logger receives the auth-failure alerts (error level) and provider
	// warnings; nil discards them.
	Logger *slog.Logger
	// Alerts counts auth failures; nil counts nothing.
	Alerts AuthAlerts
}

// Sender sends messages through mailersend-go. It is safe for concurrent use.
type Sender struct {
	client *mailersend.Mailersend
	from   Address
	local  bool
	apiKey string // kept only to scrub it from error messages
	logger *slog.Logger
	alerts AuthAlerts
}

// NewSender builds a Sender for the real API (cfg.APIKey) or the local
// endpoint (cfg.LocalURL).
func NewSender(cfg Config) (*Sender, error) {
	return newSender(cfg, nil)
}

// newSender lets tests substitute the transport underneath, to observe what
// the client sends to the real API host without a network.
func newSender(cfg Config, base http.RoundTripper) (*Sender, error) {
	if strings.TrimSpace(cfg.From.Email) == "" {
		return nil, errors.New("mail: From.Email is required")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if base == nil {
		base = http.DefaultTransport
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Sender{from: cfg.From, apiKey: cfg.APIKey, logger: logger.With("component", "mail"), alerts: cfg.Alerts}
	transport := base
	key := cfg.APIKey
	if key == "" {
		if cfg.LocalURL == "" {
			return nil, errors.New("mail: either APIKey or LocalURL is required")
		}
		target, err := url.Parse(strings.TrimRight(cfg.LocalURL, "/"))
		if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
			return nil, fmt.Errorf("mail: LocalURL %q is not an absolute http(s) URL", cfg.LocalURL)
		}
		transport = &localTransport{target: target, base: base}
		key = localAPIKey
		if cfg.LocalToken != "" {
			key = cfg.LocalToken
			s.apiKey = key // a secret too: scrubbed like a real key
		}
		s.local = true
	}

	s.client = mailersend.NewMailersend(key)
	s.client.SetClient(&http.Client{Timeout: timeout, Transport: transport})
	return s, nil
}

// Local reports whether messages go to the local endpoint instead of MailerSend.
func (s *Sender) Local() bool { return s.local }

// Send submits one message and returns MailerSend's message id, or
// NoMessageID when MailerSend accepted it without one. Errors are *SendError;
// IsPermanent tells whether retrying can help. ctx bounds the call in addition
// to the configured timeout.
func (s *Sender) Send(ctx context.Context, m Message) (string, error) {
	if err := checkMessage(m); err != nil {
		return "", err
	}

	msg := s.client.Email.NewMessage()
	msg.SetFrom(mailersend.From{Email: s.from.Email, Name: s.from.Name})
	msg.SetRecipients([]mailersend.Recipient{{Email: m.To.Email, Name: m.To.Name}})
	msg.SetSubject(m.Subject)
	msg.SetHTML(m.HTML)
	msg.SetText(m.Text)
	if len(m.Tags) > 0 {
		msg.SetTags(m.Tags)
	}

	resp, err := s.client.Email.Send(ctx, msg)
	if err != nil {
		return "", s.classify(ctx, err)
	}
	// mailersend-go leaves a successful response open; reading it (bounded:
	// a success body is a small JSON document or empty) lets the connection
	// be reused.
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxSuccessBody))

	// Any 2xx is a delivered request, with or without an id: answering it with
	// an error would make the activity retry and send the message again.
	id := resp.Header.Get("X-Message-Id")
	if w := parseWarnings(body); len(w) > 0 || id == "" {
		s.logWarnings(ctx, resp.StatusCode, id != "", w)
	}
	if id == "" {
		return NoMessageID, nil
	}
	return id, nil
}

// providerWarning is one entry of the "warnings" MailerSend may put in a 2xx
// answer. Recipients are decoded only to count them and collect the reasons;
// their addresses never leave this package.
type providerWarning struct {
	Type       string `json:"type"`
	Warning    string `json:"warning"`
	Recipients []struct {
		Reasons []string `json:"reasons"`
	} `json:"recipients"`
}

// parseWarnings reads the warnings of a 2xx answer; a body that is empty or
// not the documented JSON has none.
func parseWarnings(body []byte) []providerWarning {
	var doc struct {
		Warnings []providerWarning `json:"warnings"`
	}
	if len(body) == 0 || json.Unmarshal(body, &doc) != nil {
		return nil
	}
	return doc.Warnings
}

// logWarnings records what MailerSend said about a message it accepted, with
// types, reasons and counts but no addresses.
func (s *Sender) logWarnings(ctx context.Context, status int, hasID bool, warnings []providerWarning) {
	types := make([]string, 0, min(len(warnings), maxWarnings))
	texts := make([]string, 0, cap(types))
	reasons := map[string]bool{}
	recipients := 0
	for i, w := range warnings {
		recipients += len(w.Recipients)
		for _, r := range w.Recipients {
			for _, reason := range r.Reasons {
				if len(reasons) < maxWarnings {
					reasons[s.scrub(reason)] = true
				}
			}
		}
		if i < maxWarnings {
			types = append(types, s.scrub(w.Type))
			texts = append(texts, s.scrub(w.Warning))
		}
	}
	reasonList := make([]string, 0, len(reasons))
	for r := range reasons {
		reasonList = append(reasonList, r)
	}
	slices.Sort(reasonList)
	msg := "email accepted with warnings"
	if !hasID {
		// Typically every recipient was suppressed and nothing went out; the
		// message still counts as delivered so it is never sent twice.
		msg = "email accepted without a message id"
	}
	s.logger.WarnContext(ctx, msg, "status", status, "warnings", len(warnings),
		"types", types, "texts", texts, "recipients", recipients, "reasons", reasonList)
}

// checkMessage rejects messages MailerSend would refuse with 422 anyway,
// without spending a request (and rate limit) on them.
func checkMessage(m Message) error {
	var missing string
	switch {
	case strings.TrimSpace(m.To.Email) == "":
		missing = "recipient address"
	case strings.TrimSpace(m.Subject) == "":
		missing = "subject"
	case strings.TrimSpace(m.HTML) == "" && strings.TrimSpace(m.Text) == "":
		missing = "body"
	}
	if missing == "" {
		return nil
	}
	return &SendError{Permanent: true, Message: "message has no " + missing}
}

// classify turns what mailersend-go returned into a *SendError.
func (s *Sender) classify(ctx context.Context, err error) error {
	var apiErr *mailersend.ErrorResponse
	var authErr *mailersend.AuthError
	if errors.As(err, &authErr) {
		apiErr = (*mailersend.ErrorResponse)(authErr)
	}
	if apiErr != nil || errors.As(err, &apiErr) {
		status := 0
		var header http.Header
		if apiErr.Response != nil {
			status = apiErr.Response.StatusCode
			header = apiErr.Response.Header
		}
		msg := apiErr.Message
		if msg == "" {
			msg = http.StatusText(status)
		}
		class := classifyStatus(status)
		se := &SendError{
			StatusCode: status,
			Permanent:  class == statusPermanent,
			Message:    s.scrub(msg),
		}
		if !se.Permanent {
			se.RetryAfter = parseRetryAfter(header.Get("Retry-After"), time.Now())
		}
		if class == statusAuth {
			se.RetryAfter = max(se.RetryAfter, authRetryDelay)
			s.alertAuth(ctx, se)
		}
		if status == http.StatusTooManyRequests {
			if se.RetryAfter == 0 {
				se.RetryAfter = rateLimitRetryDelay
			}
			s.warnRateLimit(ctx, se, header)
		}
		return se
	}

	// Everything else happened before an HTTP status arrived: DNS, connect,
	// TLS, timeouts, cancellation. None of it says the message is bad.
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &SendError{Message: "request cancelled: " + ctxErr.Error(), err: ctxErr}
	}
	detail := err
	var ue *url.Error
	if errors.As(err, &ue) {
		// url.Error repeats the URL; the inner error is the useful part.
		detail = ue.Err
	}
	return &SendError{Message: "network error: " + s.scrub(detail.Error()), err: err}
}

// statusClass is what a MailerSend error status means for the message.
type statusClass int

const (
	// statusTransient: the same message may go through later; retry with
	// backoff, honouring Retry-After.
	statusTransient statusClass = iota
	// statusPermanent: the message itself is refused and would be refused
	// again; fail it without retrying.
	statusPermanent
	// statusAuth: the account or key is wrong. The message is fine and an
	// operator can fix the cause, so it is transient, retried no sooner than
	// authRetryDelay, and alerts (error log and counter) on every attempt.
	statusAuth
)

// classifyStatus maps MailerSend's answers (2xx never reaches it):
//
//	status              class       retry                     alert
//	2xx + X-Message-Id  delivered   -                         -
//	2xx, no id          delivered   - (id is NoMessageID)     warning log
//	401, 403            transient   after >= authRetryDelay   error log + counter
//	408, 421, 429, 5xx  transient   backoff or Retry-After    -
//	400, 404, 422       permanent   never                     -
//	other 4xx           permanent   never                     -
//	other (no answer)   transient   backoff                   -
//
// MailerSend documents 401 and 403 as permanent, and for one request they
// are; but they describe the account (revoked or mistyped key, missing
// permission, suspended account), so failing the message would drop mail
// silently until someone noticed.
func classifyStatus(status int) statusClass {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return statusAuth
	case http.StatusRequestTimeout, http.StatusMisdirectedRequest, http.StatusTooManyRequests:
		return statusTransient
	case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
		return statusPermanent
	}
	// Other 4xx (413, 415, ...) describe the request, not the server's state.
	// Anything else (5xx, odd statuses) may clear up.
	if status >= 400 && status < 500 {
		return statusPermanent
	}
	return statusTransient
}

// alertAuth tells the operator MailerSend refused the credentials. The line
// names the status and the provider's scrubbed message, never the key.
func (s *Sender) alertAuth(ctx context.Context, se *SendError) {
	if s.alerts != nil {
		s.alerts.EmailProviderAuthFailure(se.StatusCode)
	}
	s.logger.ErrorContext(ctx, "email provider refused the API key or account; check MAILERSEND_API_KEY and the MailerSend account (sends are retried)",
		"status", se.StatusCode, "provider_message", se.Message, "retry_after", se.RetryAfter.String())
}

// warnRateLimit tells the operator MailerSend refused a send for the account's rate or
// daily quota. MAIL_RATE_PER_MINUTE paces retryd below the limit, so a 429 means the
// setting is above the account's limit or something else spends the same account.
func (s *Sender) warnRateLimit(ctx context.Context, se *SendError, h http.Header) {
	s.logger.WarnContext(ctx, "email provider rate limit reached; keep MAIL_RATE_PER_MINUTE below the account's x-ratelimit-limit (sends are retried)",
		"provider_message", se.Message, "retry_after", se.RetryAfter.String(),
		"ratelimit_limit", s.scrub(h.Get("X-Ratelimit-Limit")), "ratelimit_remaining", s.scrub(h.Get("X-Ratelimit-Remaining")))
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 means "not given".
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// scrub makes text from outside (provider messages, transport errors) safe to
// put into a SendError: no key, no addresses, bounded length.
func (s *Sender) scrub(msg string) string {
	if s.apiKey != "" {
		msg = strings.ReplaceAll(msg, s.apiKey, "[key]")
	}
	msg = redactAddresses(msg)
	if len(msg) > maxErrorMessage {
		msg = strings.ToValidUTF8(msg[:maxErrorMessage], "") + "..."
	}
	return msg
}

// redactAddresses replaces every token containing an "@" with "[address]",
// so error text never carries an email address into logs or stored error
// columns, whatever the provider or the network stack put in it.
func redactAddresses(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	isDelim := func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`<>"'(),;[]`, r)
	}
	var b strings.Builder
	rest := s
	for {
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			b.WriteString(rest)
			return b.String()
		}
		start := 0
		if i := strings.LastIndexFunc(rest[:at], isDelim); i >= 0 {
			_, size := utf8.DecodeRuneInString(rest[i:])
			start = i + size
		}
		end := at + 1
		if i := strings.IndexFunc(rest[end:], isDelim); i >= 0 {
			end += i
		} else {
			end = len(rest)
		}
		b.WriteString(rest[:start])
		b.WriteString("[address]")
		rest = rest[end:]
	}
}

// localTransport sends mailersend-go's requests to the local endpoint. It
// refuses any other destination so a local-mode sender can never reach the
// real API or an unexpected host.
type localTransport struct {
	target *url.URL
	base   http.RoundTripper
}

func (t *localTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != apiHost || !strings.HasPrefix(req.URL.Path, apiPathPrefix) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("mail: local transport refuses %s %s://%s%s", req.Method, req.URL.Scheme, req.URL.Host, req.URL.Path)
	}
	// A RoundTripper must not modify the caller's request.
	out := req.Clone(req.Context())
	u := *t.target
	u.Path = t.target.Path + req.URL.Path
	u.RawPath = ""
	u.RawQuery = req.URL.RawQuery
	out.URL = &u
	out.Host = ""
	return t.base.RoundTrip(out)
}
