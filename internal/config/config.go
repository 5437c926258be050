// Package config reads retryd's configuration from the environment (README.md and
// docs/product.md list the variables), applies the documented defaults and validates it
// once at start, so a bad value stops the process with a message naming the variable
// instead of failing on the first request.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Mode says which command runs: dev fills secrets with random values, the others require them.
type Mode int

const (
	ModeServe Mode = iota
	ModeWork
	ModeDev
	ModeTool // migrate, seed, keys: only the database matters
)

// Config is the whole configuration. Secrets are kept out of String().
type Config struct {
	// Mode is the command the configuration was read for.
	Mode              Mode
	DatabaseURL       string
	HTTPAddr          string
	TemporalAddress   string
	TemporalNamespace string
	TemporalTaskQueue string
	// TemporalAddressSet is false when TEMPORAL_ADDRESS was not given: dev then starts
	// its own Temporal dev server.
	TemporalAddressSet bool
	MailerSendAPIKey   string
	// DevMailbox serves the local MailerSend endpoint and /dev/mailbox on the API. Only
	// dev turns it on by default: the mailbox holds every member's live link.
	DevMailbox bool
	// DevMailboxToken opens the /dev routes to clients presenting it (Authorization:
	// Bearer): the worker sends it as its MailerSend key.
	DevMailboxToken string
	// DevLoopback lets loopback clients reach the /dev routes without the token: only in
	// dev, whose API binds to loopback. Elsewhere a proxy on the host would make every
	// client look local, so serve and work with the mailbox need DevMailboxToken.
	DevLoopback    bool
	MailLocalURL   string
	MailFrom       string
	MailFromName   string
	AppBaseURL     string
	LinkSecret     string
	LinkTTL        time.Duration
	PipelineToken  string
	RetryWindow    time.Duration
	RetryReminders []time.Duration
	StartCheck     time.Duration
	// WorkerMetricsAddr is work's private listener (/metrics, /healthz, /debug/pprof);
	// empty: none.
	WorkerMetricsAddr string
	// MetricsAddr is the private listener of serve and dev (/metrics, /healthz,
	// /debug/pprof); empty: none. The API port never serves metrics: they count every
	// organization's work.
	MetricsAddr     string
	LogLevel        string
	ShutdownTimeout time.Duration
	TrustedProxies  []string
	DevDataDir      string
	// DatabaseMaxConns bounds each process's Postgres pool (see docs/operations.md for
	// how it adds up against max_connections).
	DatabaseMaxConns int
	// APIKeyCacheTTL is how long the API trusts a resolved API key without the database:
	// the longest a revoked key keeps working on each API process. 0 disables the cache.
	APIKeyCacheTTL time.Duration
	// MailRatePerMinute caps the sends of every worker together: the Temporal server
	// dispatches the email queue's activities no faster (docs/decisions.md, "Email at the
	// provider's pace").
	MailRatePerMinute int
	// ResendCooldown is how long after a retry's last email an admin's resend is refused
	// (429 rate_limited); 0 turns the cooldown off.
	ResendCooldown time.Duration
	// MailQueuePerOrg is how many of one organization's emails may wait to be sent
	// before its resends are refused (429 email_queue_full).
	MailQueuePerOrg int
	// WorkerCacheSize is how many workflow runs a worker process keeps in memory between
	// their tasks (the SDK's sticky cache); a run not cached replays its history instead.
	WorkerCacheSize int
	// WebhookAllowPrivate lets webhook endpoints resolve to loopback, private and
	// link-local addresses (WEBHOOK_ALLOW_PRIVATE=on). Dev allows loopback and plain http
	// on its own (WebhookDevReceivers).
	WebhookAllowPrivate bool
	// WebhookDevReceivers: `retryd dev` accepts http:// and loopback receivers so local
	// tools work; set by the mode, not by a variable.
	WebhookDevReceivers bool
	// WebhookTimeout bounds one delivery attempt, from dial to the answer's headers.
	WebhookTimeout time.Duration
	// WebhookRetryFor is how long a delivery keeps being attempted before it fails; an
	// endpoint whose deliveries failed that long is disabled.
	WebhookRetryFor time.Duration
	// WebhookFirstRetry is the wait before a delivery's second attempt; 0 means the
	// workflow's default (5 s). Not an environment variable: the harness shortens it.
	WebhookFirstRetry time.Duration
	// WebhookBacklogRefresh is how often the relay counts the backlog gauges; 0 means
	// its default (15 s). Not an environment variable: the harness shortens it.
	WebhookBacklogRefresh time.Duration
	// WebhookConcurrency is how many delivery attempts each worker process makes at once.
	WebhookConcurrency int
	// WebhookSecretOverlap is how long a rotated-out secret keeps signing beside the new one.
	WebhookSecretOverlap time.Duration
	// GiveTimeout bounds how long the API waits on a workflow's answer (a give, a
	// restart, a resend). Not an environment variable: the harness shortens it.
	GiveTimeout time.Duration
}

// DefaultGiveTimeout is GiveTimeout's value as loaded.
const DefaultGiveTimeout = 15 * time.Second

// Var documents one environment variable for --help and the README.
type Var struct {
	Name, Default, Meaning string
}

// Vars lists every variable retryd reads, in the order --help prints them. Some are read
// elsewhere (RETRYD_TEMPORAL_CLI by internal/devserver, TEMPORAL_API_KEY and its kin by
// the SDK's envconfig) but belong here all the same: this list is what an operator sees.
var Vars = []Var{
	{"DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retryd?sslmode=disable", "Postgres URL"},
	{"DATABASE_MAX_CONNS", "20", "most Postgres connections each process opens; processes × this must stay under the server's max_connections"},
	{"API_KEY_CACHE_TTL", "5s", "how long the API trusts a resolved API key without asking the database, so the longest a revoked key keeps working; 0 disables"},
	{"HTTP_ADDR", ":8080", "API listen address; 127.0.0.1:8080 in dev, which is for this machine only"},
	{"TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend host:port; in dev, unset means start the Temporal dev server"},
	{"TEMPORAL_NAMESPACE", "default", "Temporal namespace"},
	{"TEMPORAL_TASK_QUEUE", "retryd", "task queue of the API and the worker; deployments sharing a namespace need their own"},
	{"TEMPORAL_API_KEY", "(unset)", "Temporal Cloud API key; TEMPORAL_TLS_*, TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE are read too (the SDK's envconfig)"},
	{"MAILERSEND_API_KEY", "(unset)", "real MailerSend API key; unset means the local MailerSend-compatible endpoint at /dev/mailersend"},
	{"DEV_MAILBOX", "on in dev, off otherwise", "on: serve the local mail endpoint and /dev/mailbox (needs MAILERSEND_API_KEY unset; outside dev, DEV_MAILBOX_TOKEN too); serve and work without a key require it"},
	{"DEV_MAILBOX_TOKEN", "(unset)", "bearer token (at least 16 bytes) of the /dev routes; outside dev they answer only clients presenting it, so serve and work with DEV_MAILBOX=on require it; the worker sends it to the local endpoint"},
	{"MAILERSEND_LOCAL_URL", "http://127.0.0.1:<HTTP_ADDR port>/dev/mailersend", "base URL of the local mail endpoint (used only without MAILERSEND_API_KEY)"},
	{"MAIL_FROM", "retries@headshotpro.test", "sender address"},
	{"MAIL_FROM_NAME", "HeadshotPro", "sender name"},
	{"APP_BASE_URL", "http://localhost:8080", "base of links in emails"},
	{"LINK_SECRET", "random in dev, required otherwise", "HMAC key for member links (at least 16 bytes)"},
	{"LINK_TTL", "30d", "how long a member link stays valid"},
	{"PIPELINE_TOKEN", "random in dev, required otherwise", "bearer token of the pipeline endpoints"},
	{"RETRY_WINDOW", "60d", "how long after completion a retry is allowed (Go duration, d suffix allowed)"},
	{"RETRY_REMINDERS", "3d,7d", "comma-separated delays after the retry email for reminders; empty: none"},
	{"START_CHECK_INTERVAL", "1h", "how often a pending retry or restart checks the database for a start whose signal was lost"},
	{"METRICS_ADDR", "127.0.0.1:9464", "private listen address of serve's and dev's /metrics, /healthz and /debug/pprof (never on HTTP_ADDR); off disables; keep it off the public network"},
	{"WORKER_METRICS_ADDR", "127.0.0.1:9090", "worker's private /metrics, /healthz and /debug/pprof listen address; off disables"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"WEBHOOK_ALLOW_PRIVATE", "off", "on: webhook endpoints may resolve to loopback, private and link-local addresses, and use http:// (cloud metadata addresses stay refused); dev allows loopback and http:// receivers without it"},
	{"WEBHOOK_TIMEOUT", "10s", "longest one webhook delivery attempt waits for the endpoint's answer (1s to 60s)"},
	{"WEBHOOK_RETRY_FOR", "72h", "how long a webhook delivery is attempted before it fails; an endpoint failing that long is disabled (1m to 30d)"},
	{"WEBHOOK_CONCURRENCY", "200", "most webhook delivery attempts each worker process makes at once (an attempt mostly waits on the receiver)"},
	{"WEBHOOK_SECRET_OVERLAP", "24h", "how long a rotated webhook secret keeps signing beside the new one (0 to 30d)"},
	{"MAIL_RATE_PER_MINUTE", "60", "most emails sent a minute by all workers together (the Temporal server paces the email task queue); keep it below the MailerSend account's per-minute limit (120 on v1/email)"},
	{"RESEND_COOLDOWN", "1m", "how long after a retry's last email an admin's resend is refused (429 rate_limited with Retry-After); 0 turns it off"},
	{"MAIL_QUEUE_PER_ORG", "1000", "most emails of one organization waiting to be sent before its resends are refused (429 email_queue_full)"},
	{"WORKER_CACHE_SIZE", "1000", "workflow runs a worker keeps in memory between their tasks; the rest replay their history when they wake (memory against CPU, see docs/benchmarks.md)"},
	{"GOMEMLIMIT", "(unset)", "the Go runtime's soft memory limit; 120MiB holds a worker with 10,000 pending retries near 140 MiB RSS (docs/benchmarks.md)"},
	{"SHUTDOWN_TIMEOUT", "25s", "how long SIGTERM waits for in-flight requests and activities"},
	{"TRUSTED_PROXIES", "(none)", "comma-separated CIDRs whose X-Forwarded-For is believed"},
	{"RETRYD_DEV_DIR", "~/.cache/retryd/dev", "dev only: where the dev server keeps its database"},
	{"RETRYD_TEMPORAL_CLI", "${XDG_CACHE_HOME:-~/.cache}/retryd/temporal-v1.5.1/temporal", "dev and tests: path of the Temporal CLI to use, built there from Go module source when missing"},
}

// Load reads the environment through lookupEnv (os.LookupEnv in production, a map in
// tests). An empty value counts as unset, except for RETRY_REMINDERS where empty means
// "no reminders".
func Load(mode Mode, lookupEnv func(string) (string, bool)) (*Config, error) {
	get := func(name, def string) string {
		if v, ok := lookup(lookupEnv, name); ok {
			return v
		}
		return def
	}
	c := &Config{
		Mode:              mode,
		GiveTimeout:       DefaultGiveTimeout,
		DatabaseURL:       get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/retryd?sslmode=disable"),
		HTTPAddr:          get("HTTP_ADDR", defaultHTTPAddr(mode)),
		TemporalAddress:   get("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		TemporalNamespace: get("TEMPORAL_NAMESPACE", "default"),
		TemporalTaskQueue: get("TEMPORAL_TASK_QUEUE", "retryd"),
		MailerSendAPIKey:  get("MAILERSEND_API_KEY", ""),
		DevMailboxToken:   get("DEV_MAILBOX_TOKEN", ""),
		MailFrom:          get("MAIL_FROM", "retries@headshotpro.test"),
		MailFromName:      get("MAIL_FROM_NAME", "HeadshotPro"),
		AppBaseURL:        strings.TrimRight(get("APP_BASE_URL", "http://localhost:8080"), "/"),
		LinkSecret:        get("LINK_SECRET", ""),
		PipelineToken:     get("PIPELINE_TOKEN", ""),
		LogLevel:          get("LOG_LEVEL", "info"),
		DevDataDir:        get("RETRYD_DEV_DIR", ""),
	}
	_, c.TemporalAddressSet = lookup(lookupEnv, "TEMPORAL_ADDRESS")

	var errs []error
	bad := func(name string, err error) { errs = append(errs, fmt.Errorf("%s: %w", name, err)) }

	var err error
	if c.RetryWindow, err = ParseDuration(get("RETRY_WINDOW", "60d")); err != nil || c.RetryWindow <= 0 {
		bad("RETRY_WINDOW", orPositive(err))
	}
	if c.LinkTTL, err = ParseDuration(get("LINK_TTL", "30d")); err != nil || c.LinkTTL <= 0 {
		bad("LINK_TTL", orPositive(err))
	}
	if c.ShutdownTimeout, err = ParseDuration(get("SHUTDOWN_TIMEOUT", "25s")); err != nil || c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", orPositive(err))
	}
	if c.StartCheck, err = ParseDuration(get("START_CHECK_INTERVAL", "1h")); err != nil || c.StartCheck < time.Second {
		bad("START_CHECK_INTERVAL", errors.New("must be a duration of at least 1s"))
	}
	if c.DatabaseMaxConns, err = strconv.Atoi(get("DATABASE_MAX_CONNS", "20")); err != nil || c.DatabaseMaxConns < 1 || c.DatabaseMaxConns > 1000 {
		bad("DATABASE_MAX_CONNS", errors.New("must be a whole number from 1 to 1000"))
	}
	if c.APIKeyCacheTTL, err = ParseDuration(get("API_KEY_CACHE_TTL", "5s")); err != nil || c.APIKeyCacheTTL < 0 || c.APIKeyCacheTTL > 5*time.Minute {
		bad("API_KEY_CACHE_TTL", errors.New("must be a duration from 0 to 5m"))
	}
	if c.MailRatePerMinute, err = strconv.Atoi(get("MAIL_RATE_PER_MINUTE", "60")); err != nil || c.MailRatePerMinute < 1 || c.MailRatePerMinute > 100000 {
		bad("MAIL_RATE_PER_MINUTE", errors.New("must be a whole number from 1 to 100000"))
	}
	if c.ResendCooldown, err = ParseDuration(get("RESEND_COOLDOWN", "1m")); err != nil || c.ResendCooldown < 0 || c.ResendCooldown > time.Hour {
		bad("RESEND_COOLDOWN", errors.New("must be a duration from 0 to 1h"))
	}
	if c.MailQueuePerOrg, err = strconv.Atoi(get("MAIL_QUEUE_PER_ORG", "1000")); err != nil || c.MailQueuePerOrg < 1 || c.MailQueuePerOrg > 1000000 {
		bad("MAIL_QUEUE_PER_ORG", errors.New("must be a whole number from 1 to 1000000"))
	}
	if c.WorkerCacheSize, err = strconv.Atoi(get("WORKER_CACHE_SIZE", "1000")); err != nil || c.WorkerCacheSize < 1 || c.WorkerCacheSize > 1000000 {
		bad("WORKER_CACHE_SIZE", errors.New("must be a whole number from 1 to 1000000"))
	}
	switch v := strings.ToLower(get("WEBHOOK_ALLOW_PRIVATE", "off")); v {
	case "on", "true", "1":
		c.WebhookAllowPrivate = true
	case "off", "false", "0":
	default:
		bad("WEBHOOK_ALLOW_PRIVATE", errors.New("must be on or off"))
	}
	c.WebhookDevReceivers = mode == ModeDev
	if c.WebhookTimeout, err = ParseDuration(get("WEBHOOK_TIMEOUT", "10s")); err != nil || c.WebhookTimeout < time.Second || c.WebhookTimeout > time.Minute {
		bad("WEBHOOK_TIMEOUT", errors.New("must be a duration from 1s to 60s"))
	}
	if c.WebhookRetryFor, err = ParseDuration(get("WEBHOOK_RETRY_FOR", "72h")); err != nil || c.WebhookRetryFor < time.Minute || c.WebhookRetryFor > 30*24*time.Hour {
		bad("WEBHOOK_RETRY_FOR", errors.New("must be a duration from 1m to 30d"))
	}
	if c.WebhookConcurrency, err = strconv.Atoi(get("WEBHOOK_CONCURRENCY", "200")); err != nil || c.WebhookConcurrency < 1 || c.WebhookConcurrency > 10000 {
		bad("WEBHOOK_CONCURRENCY", errors.New("must be a whole number from 1 to 10000"))
	}
	if c.WebhookSecretOverlap, err = ParseDuration(get("WEBHOOK_SECRET_OVERLAP", "24h")); err != nil || c.WebhookSecretOverlap < 0 || c.WebhookSecretOverlap > 30*24*time.Hour {
		bad("WEBHOOK_SECRET_OVERLAP", errors.New("must be a duration from 0 to 30d"))
	}
	reminders, set := lookupEnv("RETRY_REMINDERS")
	if !set {
		reminders = "3d,7d"
	}
	if c.RetryReminders, err = ParseDurationList(reminders); err != nil {
		bad("RETRY_REMINDERS", err)
	}
	// Off the API port and on loopback unless told otherwise: the metrics count every
	// organization's work and pprof shows the program's internals.
	for _, l := range []struct {
		name, def string
		addr      *string
	}{{"METRICS_ADDR", "127.0.0.1:9464", &c.MetricsAddr}, {"WORKER_METRICS_ADDR", "127.0.0.1:9090", &c.WorkerMetricsAddr}} {
		v := get(l.name, l.def)
		if strings.EqualFold(v, "off") {
			continue
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			bad(l.name, errors.New("must be host:port (e.g. 127.0.0.1:9090, :9090) or off"))
		}
		*l.addr = v
	}
	if tp := get("TRUSTED_PROXIES", ""); tp != "" {
		for _, p := range strings.Split(tp, ",") {
			c.TrustedProxies = append(c.TrustedProxies, strings.TrimSpace(p))
		}
	}
	if _, err := url.Parse(c.DatabaseURL); err != nil || !strings.HasPrefix(c.DatabaseURL, "postgres") {
		bad("DATABASE_URL", errors.New("must be a postgres:// or postgresql:// URL"))
	}
	if u, err := url.Parse(c.AppBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("APP_BASE_URL", errors.New("must be an absolute http(s) URL"))
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		bad("MAIL_FROM", errors.New("must be an email address"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", errors.New("must be debug, info, warn or error"))
	}
	devMailboxDefault := "off"
	if mode == ModeDev && c.MailerSendAPIKey == "" {
		devMailboxDefault = "on"
	}
	switch v := strings.ToLower(get("DEV_MAILBOX", devMailboxDefault)); v {
	case "on", "true", "1":
		c.DevMailbox = true
	case "off", "false", "0":
	default:
		bad("DEV_MAILBOX", errors.New("must be on or off"))
	}
	switch {
	case c.DevMailbox && c.MailerSendAPIKey != "":
		bad("DEV_MAILBOX", errors.New("cannot be on with MAILERSEND_API_KEY: the local mailbox exists only without a real key"))
	case !c.DevMailbox && c.MailerSendAPIKey == "" && (mode == ModeServe || mode == ModeWork):
		// Failing at start beats a worker whose every email fails against a missing endpoint.
		bad("MAILERSEND_API_KEY", errors.New("is required; or set DEV_MAILBOX=on to keep mail in the local mailbox (never in production)"))
	}
	if c.DevMailboxToken != "" && len(c.DevMailboxToken) < 16 {
		bad("DEV_MAILBOX_TOKEN", errors.New("must be at least 16 bytes"))
	}
	c.DevLoopback = mode == ModeDev
	if c.DevMailbox && c.DevMailboxToken == "" && (mode == ModeServe || mode == ModeWork) {
		// Outside dev the /dev routes answer the token alone: a proxy on this host makes
		// every client look local, so loopback proves nothing.
		bad("DEV_MAILBOX_TOKEN", errors.New("is required with DEV_MAILBOX=on outside `retryd dev` (at least 16 bytes, e.g. openssl rand -hex 24): the mailbox and the local mail endpoint answer only clients presenting it, and the worker sends it"))
	}
	c.MailLocalURL = get("MAILERSEND_LOCAL_URL", "http://"+loopback(c.HTTPAddr)+"/dev/mailersend")

	switch mode {
	case ModeDev:
		if c.LinkSecret == "" {
			c.LinkSecret = randomHex(32)
		}
		if c.PipelineToken == "" {
			c.PipelineToken = randomHex(24)
		}
	case ModeServe, ModeWork:
		if c.LinkSecret == "" {
			bad("LINK_SECRET", errors.New("is required (at least 16 bytes); only `retryd dev` makes a random one"))
		}
		if mode == ModeServe && c.PipelineToken == "" {
			bad("PIPELINE_TOKEN", errors.New("is required; only `retryd dev` makes a random one"))
		}
	}
	if c.LinkSecret != "" && len(c.LinkSecret) < 16 {
		bad("LINK_SECRET", errors.New("must be at least 16 bytes"))
	}
	if len(errs) > 0 {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = "  " + e.Error()
		}
		return nil, fmt.Errorf("invalid configuration (see retryd --help):\n%s", strings.Join(lines, "\n"))
	}
	return c, nil
}

// defaultHTTPAddr is the API's listen address: every interface for serve, which a
// deployment puts behind its load balancer, and loopback for dev, whose demo keys,
// mailbox and random secrets are for this machine only.
func defaultHTTPAddr(mode Mode) string {
	if mode == ModeDev {
		return "127.0.0.1:8080"
	}
	return ":8080"
}

// LocalAPIURL is the API's address as seen from this machine.
func (c *Config) LocalAPIURL() string { return "http://" + loopback(c.HTTPAddr) }

// Dialable turns a listen address such as ":9090" into one this machine can dial
// ("127.0.0.1:9090").
func Dialable(addr string) string { return loopback(addr) }

// FromEnv is Load with the process environment.
func FromEnv(mode Mode) (*Config, error) { return Load(mode, os.LookupEnv) }

func lookup(lookupEnv func(string) (string, bool), name string) (string, bool) {
	v, _ := lookupEnv(name)
	v = strings.TrimSpace(v)
	return v, v != ""
}

func orPositive(err error) error {
	if err != nil {
		return err
	}
	return errors.New("must be positive")
}

// loopback turns a listen address like ":8080" into a dialable "127.0.0.1:8080".
func loopback(addr string) string {
	host, port, ok := strings.Cut(addr, ":")
	if !ok {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "[::]" {
		host = "127.0.0.1"
	}
	return host + ":" + port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ParseDuration is time.ParseDuration plus a whole-day suffix "d" ("60d", "1d12h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty duration")
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q: want e.g. 60d, 72h or 1d12h", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want e.g. 60d, 72h or 1d12h", s)
	}
	return days + d, nil
}

// ParseDurationList parses "3d,7d"; an empty string is an empty list. Delays must be
// positive and increasing, since each is measured from the first email.
func ParseDurationList(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := ParseDuration(part)
		if err != nil {
			return nil, err
		}
		if d <= 0 {
			return nil, fmt.Errorf("delay %q must be positive", part)
		}
		if len(out) > 0 && d <= out[len(out)-1] {
			return nil, fmt.Errorf("delays must increase (%s after %s)", d, out[len(out)-1])
		}
		out = append(out, d)
	}
	return out, nil
}
