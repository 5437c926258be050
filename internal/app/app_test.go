package app

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/config"
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
