package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Load(ModeDev, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:8080" || c.TemporalAddress != "127.0.0.1:7233" || c.TemporalNamespace != "default" || c.TemporalAddressSet {
		t.Errorf("defaults = %+v", c)
	}
	if c.RetryWindow != 60*24*time.Hour || len(c.RetryReminders) != 2 || c.RetryReminders[0] != 72*time.Hour || c.RetryReminders[1] != 7*24*time.Hour {
		t.Errorf("window %s reminders %v", c.RetryWindow, c.RetryReminders)
	}
	if len(c.LinkSecret) < 16 || c.PipelineToken == "" {
		t.Error("dev mode must make random secrets")
	}
	if c.MailLocalURL != "http://127.0.0.1:8080/dev/mailersend" || c.LocalAPIURL() != "http://127.0.0.1:8080" {
		t.Errorf("local URLs %q %q", c.MailLocalURL, c.LocalAPIURL())
	}
}

func TestEmptyRemindersMeansNone(t *testing.T) {
	c, err := Load(ModeDev, env(map[string]string{"RETRY_REMINDERS": ""}))
	if err != nil || len(c.RetryReminders) != 0 {
		t.Fatalf("reminders = %v, %v", c.RetryReminders, err)
	}
}

func TestServeRequiresSecrets(t *testing.T) {
	_, err := Load(ModeServe, env(nil))
	if err == nil || !strings.Contains(err.Error(), "LINK_SECRET") || !strings.Contains(err.Error(), "PIPELINE_TOKEN") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Load(ModeWork, env(map[string]string{"LINK_SECRET": "0123456789abcdef", "MAILERSEND_API_KEY": "mlsn.x"})); err != nil {
		t.Fatalf("work with a link secret: %v", err)
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"RETRY_WINDOW": "sixty days", "RETRY_REMINDERS": "7d,3d", "LINK_TTL": "0s", "APP_BASE_URL": "localhost",
		"MAIL_FROM": "not an address", "LOG_LEVEL": "loud", "DATABASE_URL": "mysql://x", "LINK_SECRET": "short",
	} {
		_, err := Load(ModeDev, env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: err = %v", name, value, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"60d": 60 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "0d": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "3x", "1.5d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestPoolAndKeyCache(t *testing.T) {
	c, err := Load(ModeDev, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseMaxConns != 20 || c.APIKeyCacheTTL != 5*time.Second {
		t.Errorf("defaults: pool %d, key cache %s", c.DatabaseMaxConns, c.APIKeyCacheTTL)
	}
	c, err = Load(ModeDev, env(map[string]string{"DATABASE_MAX_CONNS": "8", "API_KEY_CACHE_TTL": "0"}))
	if err != nil || c.DatabaseMaxConns != 8 || c.APIKeyCacheTTL != 0 {
		t.Fatalf("set: %+v, %v", c, err)
	}
	for name, v := range map[string]string{"DATABASE_MAX_CONNS": "0", "API_KEY_CACHE_TTL": "1h"} {
		if _, err := Load(ModeDev, env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: want an error naming the variable, got %v", name, v, err)
		}
	}
}

func TestMailRateAndWorkerCache(t *testing.T) {
	c, err := Load(ModeDev, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MailRatePerMinute != 60 || c.WorkerCacheSize != 1000 {
		t.Errorf("defaults: mail rate %d, worker cache %d", c.MailRatePerMinute, c.WorkerCacheSize)
	}
	c, err = Load(ModeDev, env(map[string]string{"MAIL_RATE_PER_MINUTE": "600", "WORKER_CACHE_SIZE": "10000"}))
	if err != nil || c.MailRatePerMinute != 600 || c.WorkerCacheSize != 10000 {
		t.Fatalf("set: %+v, %v", c, err)
	}
	for name, v := range map[string]string{"MAIL_RATE_PER_MINUTE": "0", "WORKER_CACHE_SIZE": "-1"} {
		if _, err := Load(ModeDev, env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: want an error naming the variable, got %v", name, v, err)
		}
	}
	if _, err := Load(ModeDev, env(map[string]string{"MAIL_RATE_PER_MINUTE": "1.5"})); err == nil {
		t.Error("MAIL_RATE_PER_MINUTE=1.5: want an error")
	}
}

func TestResendLimits(t *testing.T) {
	c, err := Load(ModeDev, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ResendCooldown != time.Minute || c.MailQueuePerOrg != 1000 {
		t.Errorf("defaults: resend cooldown %s, queue per organization %d", c.ResendCooldown, c.MailQueuePerOrg)
	}
	c, err = Load(ModeDev, env(map[string]string{"RESEND_COOLDOWN": "0s", "MAIL_QUEUE_PER_ORG": "50"}))
	if err != nil || c.ResendCooldown != 0 || c.MailQueuePerOrg != 50 {
		t.Fatalf("set: %+v, %v", c, err)
	}
	for name, v := range map[string]string{"RESEND_COOLDOWN": "2h", "MAIL_QUEUE_PER_ORG": "0"} {
		if _, err := Load(ModeDev, env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: want an error naming the variable, got %v", name, v, err)
		}
	}
	if _, err := Load(ModeDev, env(map[string]string{"RESEND_COOLDOWN": "-1s"})); err == nil {
		t.Error("RESEND_COOLDOWN=-1s: want an error")
	}
}

// The local mailbox holds members' live links: only dev offers it unasked, serve and work
// without a real key must opt in, and it never coexists with a key.
func TestDevMailboxIsOptIn(t *testing.T) {
	secrets := map[string]string{"LINK_SECRET": "0123456789abcdef", "PIPELINE_TOKEN": "p"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range secrets {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	if c, err := Load(ModeDev, env(nil)); err != nil || !c.DevMailbox {
		t.Fatalf("dev: DevMailbox = %v, %v; want on by default", c != nil && c.DevMailbox, err)
	}
	if c, err := Load(ModeDev, env(map[string]string{"MAILERSEND_API_KEY": "mlsn.x"})); err != nil || c.DevMailbox {
		t.Fatalf("dev with a key: DevMailbox on or error %v", err)
	}
	for _, mode := range []Mode{ModeServe, ModeWork} {
		_, err := Load(mode, env(with(nil)))
		if err == nil || !strings.Contains(err.Error(), "MAILERSEND_API_KEY") || !strings.Contains(err.Error(), "DEV_MAILBOX=on") {
			t.Errorf("mode %d without key or opt-in: err = %v", mode, err)
		}
		c, err := Load(mode, env(with(map[string]string{"MAILERSEND_API_KEY": "mlsn.x"})))
		if err != nil || c.DevMailbox {
			t.Errorf("mode %d with a key: DevMailbox %v err %v", mode, c != nil && c.DevMailbox, err)
		}
		c, err = Load(mode, env(with(map[string]string{"DEV_MAILBOX": "on", "DEV_MAILBOX_TOKEN": "0123456789abcdef0"})))
		if err != nil || !c.DevMailbox || c.DevMailboxToken != "0123456789abcdef0" {
			t.Errorf("mode %d opted in: %+v %v", mode, c, err)
		}
		if _, err := Load(mode, env(with(map[string]string{"DEV_MAILBOX": "on", "MAILERSEND_API_KEY": "mlsn.x"}))); err == nil || !strings.Contains(err.Error(), "DEV_MAILBOX") {
			t.Errorf("mode %d: mailbox and key together: err = %v", mode, err)
		}
	}
	for name, value := range map[string]string{"DEV_MAILBOX": "maybe", "DEV_MAILBOX_TOKEN": "short"} {
		if _, err := Load(ModeDev, env(map[string]string{name: value})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: err = %v", name, value, err)
		}
	}
}

// Only serve's API port faces the network by default: the metrics listeners (profiles
// included) and the whole of dev bind to loopback unless an address says otherwise.
func TestListenersDefaultToLoopback(t *testing.T) {
	base := map[string]string{"LINK_SECRET": "0123456789abcdef", "PIPELINE_TOKEN": "p", "MAILERSEND_API_KEY": "mlsn.x"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for mode, http := range map[Mode]string{ModeServe: ":8080", ModeWork: ":8080", ModeDev: "127.0.0.1:8080"} {
		c, err := Load(mode, env(with(nil)))
		if err != nil {
			t.Fatalf("mode %d: %v", mode, err)
		}
		if c.HTTPAddr != http || c.MetricsAddr != "127.0.0.1:9464" || c.WorkerMetricsAddr != "127.0.0.1:9090" {
			t.Errorf("mode %d: HTTP_ADDR %q METRICS_ADDR %q WORKER_METRICS_ADDR %q; want %q, 127.0.0.1:9464, 127.0.0.1:9090",
				mode, c.HTTPAddr, c.MetricsAddr, c.WorkerMetricsAddr, http)
		}
	}
	c, err := Load(ModeDev, env(map[string]string{"HTTP_ADDR": ":8081", "METRICS_ADDR": "0.0.0.0:9464", "WORKER_METRICS_ADDR": "off"}))
	if err != nil || c.HTTPAddr != ":8081" || c.MetricsAddr != "0.0.0.0:9464" || c.WorkerMetricsAddr != "" {
		t.Fatalf("set: %+v, %v", c, err)
	}
	if c, err := Load(ModeServe, env(with(map[string]string{"METRICS_ADDR": "OFF"}))); err != nil || c.MetricsAddr != "" {
		t.Fatalf("METRICS_ADDR=OFF: %q, %v; want it off", c.MetricsAddr, err)
	}
	for name, v := range map[string]string{"METRICS_ADDR": "9464", "WORKER_METRICS_ADDR": "localhost"} {
		if _, err := Load(ModeDev, env(map[string]string{name: v})); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: want an error naming the variable, got %v", name, v, err)
		}
	}
}

// Outside dev the /dev routes answer only the token, so a mailbox without one would be
// a mailbox nobody can read and a worker whose every send is refused: serve and work stop
// at start instead. dev needs none (loopback clients are enough there).
func TestDevMailboxOutsideDevNeedsTheToken(t *testing.T) {
	for _, mode := range []Mode{ModeServe, ModeWork} {
		_, err := Load(mode, env(map[string]string{"LINK_SECRET": "0123456789abcdef", "PIPELINE_TOKEN": "p", "DEV_MAILBOX": "on"}))
		if err == nil || !strings.Contains(err.Error(), "DEV_MAILBOX_TOKEN") || !strings.Contains(err.Error(), "DEV_MAILBOX=on") {
			t.Errorf("mode %d: DEV_MAILBOX=on without a token: err = %v, want one naming DEV_MAILBOX_TOKEN", mode, err)
		}
	}
	c, err := Load(ModeDev, env(nil))
	if err != nil || !c.DevMailbox || c.DevMailboxToken != "" || !c.DevLoopback {
		t.Fatalf("dev: %+v, %v; want the mailbox on, no token needed, loopback enough", c, err)
	}
	c, err = Load(ModeServe, env(map[string]string{"LINK_SECRET": "0123456789abcdef", "PIPELINE_TOKEN": "p", "DEV_MAILBOX": "on", "DEV_MAILBOX_TOKEN": "0123456789abcdef0"}))
	if err != nil || c.DevLoopback {
		t.Fatalf("serve: DevLoopback %v, %v; want loopback not enough", c != nil && c.DevLoopback, err)
	}
}
