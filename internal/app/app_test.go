package app

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/webhook"
)

// TestWorkerStopsWithinShutdownTimeout: SHUTDOWN_TIMEOUT bounds the worker's drain as
// well as the API's (worker/worker_test.go shows the worker honouring StopTimeout).
func TestWorkerStopsWithinShutdownTimeout(t *testing.T) {
	env := map[string]string{"LINK_SECRET": "0123456789abcdef", "SHUTDOWN_TIMEOUT": "7s", "TEMPORAL_TASK_QUEUE": "q1", "MAILERSEND_API_KEY": "mlsn.test", "MAIL_RATE_PER_MINUTE": "90"}
	cfg, err := config.Load(config.ModeWork, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	opts := WorkerOptions(cfg)
	if opts.StopTimeout != 7*time.Second || opts.TaskQueue != "q1" || opts.EmailsPerMinute != 90 {
		t.Errorf("worker options = %+v, want StopTimeout 7s, TaskQueue q1 and EmailsPerMinute 90", opts)
	}
}

func TestNewMailboxOnlyWhenOptedInWithoutKey(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Config
		want bool
	}{
		{config.Config{}, false},
		{config.Config{DevMailbox: true}, true},
		{config.Config{DevMailbox: true, MailerSendAPIKey: "mlsn.x"}, false},
		{config.Config{MailerSendAPIKey: "mlsn.x"}, false},
	} {
		if got := (&App{Config: &tc.cfg}).Mailbox() != nil; got != tc.want {
			t.Errorf("DevMailbox %v, key set %v: mailbox %v, want %v", tc.cfg.DevMailbox, tc.cfg.MailerSendAPIKey != "", got, tc.want)
		}
	}
}

// TestWebhookPolicyFollowsModeAndAllowPrivate: outside dev only public https receivers
// are reachable; WEBHOOK_ALLOW_PRIVATE=on opens private addresses and plain http (a
// private network's receivers often have no certificate); dev opens loopback and http.
func TestWebhookPolicyFollowsModeAndAllowPrivate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  config.Mode
		extra map[string]string
		want  webhook.Policy
	}{
		{"work", config.ModeWork, nil, webhook.Policy{}},
		{"work, WEBHOOK_ALLOW_PRIVATE=on", config.ModeWork, map[string]string{"WEBHOOK_ALLOW_PRIVATE": "on"}, webhook.Policy{AllowHTTP: true, AllowPrivate: true}},
		{"dev", config.ModeDev, nil, webhook.Policy{AllowHTTP: true, AllowLoopback: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"LINK_SECRET": "0123456789abcdef", "MAILERSEND_API_KEY": "mlsn.test"}
			for k, v := range tc.extra {
				env[k] = v
			}
			cfg, err := config.Load(tc.mode, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			if got := WebhookPolicy(cfg); got != tc.want {
				t.Errorf("policy = %+v, want %+v", got, tc.want)
			}
		})
	}
}
