package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/headshotpro/retryd/internal/devmailbox"
)

// api is an HTTP client of retryd's serve processes, one keep-alive connection per
// client at most, spreading calls over every API URL.
type api struct {
	urls         []string
	mailbox      string
	mailboxToken string
	http         *http.Client
}

func newAPI(t *Targets, clients int) *api {
	tr := &http.Transport{MaxIdleConns: 4 * clients, MaxIdleConnsPerHost: 2 * clients, IdleConnTimeout: time.Minute}
	return &api{urls: t.APIURLs, mailbox: t.MailboxURL, mailboxToken: t.MailboxToken, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// statusError is an answer other than the one a call expects.
type statusError struct {
	Method, Path string
	Status, Want int
	Body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d, want %d: %s", e.Method, e.Path, e.Status, e.Want, e.Body)
}

// call sends one request to the i-th API URL (round robin) and reads the whole answer.
func (a *api) call(ctx context.Context, i int, method, path, bearer string, body any, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.urls[i%len(a.urls)]+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		if len(out) > 300 {
			out = out[:300]
		}
		return nil, &statusError{Method: method, Path: path, Status: resp.StatusCode, Want: want, Body: string(out)}
	}
	return out, nil
}

// messages reads the local mail endpoint's mailbox.
func (a *api) messages(ctx context.Context) ([]devmailbox.Message, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.mailbox, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.mailboxToken)
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", a.mailbox, resp.StatusCode)
	}
	var body struct {
		Messages []devmailbox.Message `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s: %w", a.mailbox, err)
	}
	return body.Messages, nil
}
