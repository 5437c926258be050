package main

import (
	"bytes"
	"strings"
	"testing"
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
