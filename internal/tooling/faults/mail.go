package faults

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/headshotpro/retryd/internal/devmailbox"
)

// mailLog accumulates what the local endpoint delivered. The mailbox lives in the API
// process and a kill -9 empties it, so the suite reads it often and right before every
// API kill; a message delivered between that last read and the kill is the one thing it
// cannot see, and the checks name those cases instead of guessing.
type mailLog struct {
	url   string
	token string // DEV_MAILBOX_TOKEN
	mu    sync.Mutex
	byID  map[string]devmailbox.Message
	kills []time.Time
}

func newMailLog(apiURL, token string) *mailLog {
	return &mailLog{url: apiURL + "/dev/mailbox", token: token, byID: map[string]devmailbox.Message{}}
}

func (l *mailLog) poll(ctx context.Context) {
	for {
		l.snapshot(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (l *mailLog) snapshot(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, l.url, nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var body struct {
		Messages []devmailbox.Message `json:"messages"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range body.Messages {
		l.byID[m.ID] = m
	}
}

func (l *mailLog) noteKill(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.kills = append(l.kills, at)
}

// messages returns every message seen, by id.
func (l *mailLog) messages() map[string]devmailbox.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]devmailbox.Message, len(l.byID))
	for k, v := range l.byID {
		out[k] = v
	}
	return out
}

// nearKill tells whether t falls in the blind spot just before an API kill.
func (l *mailLog) nearKill(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.kills {
		if !t.Before(k.Add(-2*time.Second)) && !t.After(k.Add(time.Second)) {
			return true
		}
	}
	return false
}
