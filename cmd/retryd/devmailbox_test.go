package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/wiring"
)

// serve and work without a MailerSend key must not fall back to the local mailbox, which
// would publish members' live links: they stop at start (exit 3) and name the opt-in.
func TestServeAndWorkWithoutKeyNeedTheOptIn(t *testing.T) {
	t.Setenv("LINK_SECRET", "0123456789abcdef0123")
	t.Setenv("PIPELINE_TOKEN", "pipeline-token")
	t.Setenv("MAILERSEND_API_KEY", "")
	t.Setenv("DEV_MAILBOX", "")
	for _, cmd := range []string{"serve", "work"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{cmd}, &stdout, &stderr); code != exitConfig {
			t.Fatalf("%s: exit %d, want %d; stderr %s", cmd, code, exitConfig, stderr.String())
		}
		if !strings.Contains(stderr.String(), "MAILERSEND_API_KEY") || !strings.Contains(stderr.String(), "DEV_MAILBOX=on") {
			t.Errorf("%s: stderr %q does not name the key and the opt-in", cmd, stderr.String())
		}
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
		if got := wiring.Mailbox(&tc.cfg) != nil; got != tc.want {
			t.Errorf("DevMailbox %v, key set %v: mailbox %v, want %v", tc.cfg.DevMailbox, tc.cfg.MailerSendAPIKey != "", got, tc.want)
		}
	}
}
