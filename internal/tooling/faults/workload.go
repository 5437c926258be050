package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/random"
)

// Org is the seeded organization the workload drives.
type Org struct {
	File          *seed.File
	AdminKey      string
	AutomationKey string
	// Individuals each get one give (of their one finished shoot); Managed each get one
	// restart, single or inside a bulk call.
	Individuals []SeedMember
	Managed     []SeedMember
}

// SeedMember is what the checks need to know about a seeded member.
type SeedMember struct {
	ID, ShootID, Email string
}

// NewOrg builds an organization of individuals with a finished shoot and a free retry,
// and managed members with a deleted shoot, half of them without an address.
func NewOrg(individuals, managed int) *Org {
	o := &Org{AdminKey: "rk_faults_admin_" + random.Hex(16), AutomationKey: "rk_faults_auto_" + random.Hex(16)}
	completed := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
	deleted := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	org := seed.Organization{ID: uuid.NewString(), Name: "Faults Inc", CreditBalance: 1000,
		Admins:         []seed.Admin{{ID: uuid.NewString(), Email: "lead@faults.test", Name: "Lead", Role: "owner", APIKey: o.AdminKey}},
		AutomationKeys: []string{o.AutomationKey}}
	for i := range individuals {
		m := SeedMember{ID: uuid.NewString(), ShootID: uuid.NewString(), Email: fmt.Sprintf("ind%03d@faults.test", i)}
		o.Individuals = append(o.Individuals, m)
		org.Members = append(org.Members, seed.Member{ID: m.ID, Name: fmt.Sprintf("Individual %d", i), Email: &m.Email, Kind: domain.KindIndividual,
			Shoots: []seed.Shoot{{ID: m.ShootID, Status: domain.ShootActive, CompletedAt: &completed, Results: 3}}})
	}
	for i := range managed {
		m := SeedMember{ID: uuid.NewString(), ShootID: uuid.NewString()}
		var email *string
		if i%2 == 0 {
			m.Email = fmt.Sprintf("man%03d@faults.test", i)
			email = &m.Email
		}
		o.Managed = append(o.Managed, m)
		org.Members = append(org.Members, seed.Member{ID: m.ID, Name: fmt.Sprintf("Managed %d", i), Email: email, Kind: domain.KindManaged,
			Shoots: []seed.Shoot{{ID: m.ShootID, Status: domain.ShootDeleted, CompletedAt: &completed, DeletedAt: &deleted, Results: 0}}})
	}
	o.File = &seed.File{Organizations: []seed.Organization{org}}
	return o
}

// OpKind names a kind of client operation.
type OpKind string

const (
	OpGive        OpKind = "give"
	OpRestart     OpKind = "restart"
	OpBulkRestart OpKind = "bulk_restart"
	OpStart       OpKind = "member_start"
	OpResend      OpKind = "resend"
)

// Outcome is what a client finally got for one operation, after retrying 5xx answers,
// bulk answers with a member's error and connection errors with the same Idempotency-Key.
type Outcome struct {
	Kind     OpKind
	Key      string   // Idempotency-Key ("" when the operation takes none)
	Members  []string // member ids the operation is about
	Attempts int
	Status   int    // final HTTP status; 0 when it never got one
	Code     string // problem code of a final 4xx
	Final    bool   // false: still 5xx or unreachable when the deadline passed
	Body     []byte
	Err      string // last transport error or 5xx code, when not final
}

// Client is the API client of the workload: a real client's behaviour, retrying 5xx and
// connection errors with the same key, with backoff, until its own deadline.
type Client struct {
	BaseURL  string
	HTTP     *http.Client
	Deadline time.Duration // how long one operation keeps retrying

	mu       sync.Mutex
	outcomes []Outcome
}

func (c *Client) record(o Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outcomes = append(c.outcomes, o)
}

// Outcomes returns every recorded outcome.
func (c *Client) Outcomes() []Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Outcome(nil), c.outcomes...)
}

// Do runs one operation to a final answer or the deadline, records and returns it.
func (c *Client) Do(ctx context.Context, kind OpKind, members []string, method, path, bearer, key string, body any) Outcome {
	o := Outcome{Kind: kind, Key: key, Members: members}
	raw, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, c.Deadline)
	defer cancel()
	backoff := 200 * time.Millisecond
	for {
		o.Attempts++
		status, respBody, err := c.once(ctx, method, path, bearer, key, raw)
		// A bulk answer with a member's server-side error is not kept under the key: like
		// a 5xx, the same key is sent again for that member.
		partial := err == nil && kind == OpBulkRestart && status == http.StatusOK && bulkHasError(respBody)
		switch {
		case err == nil && status < 500 && !partial:
			o.Status, o.Body, o.Final = status, respBody, true
			if status >= 400 {
				var p struct {
					Code string `json:"code"`
				}
				_ = json.Unmarshal(respBody, &p)
				o.Code = p.Code
			}
			c.record(o)
			return o
		case err != nil:
			o.Status, o.Err = 0, err.Error()
		case partial:
			o.Status, o.Err = status, "a member's restart ended in error"
		default:
			var p struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(respBody, &p)
			o.Status, o.Err = status, fmt.Sprintf("%d %s", status, p.Code)
		}
		select {
		case <-ctx.Done():
			c.record(o)
			return o
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (c *Client) once(ctx context.Context, method, path, bearer, key string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil && string(body) != "null" {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("deadline: %w", err)
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}
