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

// Org is one seeded organization: its ids, the API keys the workload uses, and the
// webhook endpoints the suite registers for it.
type Org struct {
	ID, AdminID   string
	AdminKey      string
	AutomationKey string
	CreditBalance int
	Endpoints     []EndpointSpec
}

// Population is what the workload drives: a few organizations, the first with two
// webhook endpoints, the second with none, the third with one (see NewPopulation), and
// their members.
type Population struct {
	File *seed.File
	Orgs []*Org
	// Individuals each get one give (of their one finished shoot); Managed each get one
	// restart, single or inside a bulk call.
	Individuals []SeedMember
	Managed     []SeedMember
}

// SeedMember is what the checks need to know about a seeded member.
type SeedMember struct {
	ID, ShootID, Email string
	Org                *Org
}

// NewPopulation builds orgs organizations sharing individuals with a finished shoot and
// a free retry, and managed members with a deleted shoot, half of them without an
// address. Individuals go to the organizations three at a time and managed members four
// at a time, so each organization gets every kind of follow-up the workload gives
// (which turns on a member's index) and whole bulk calls. Organization k has the webhook
// endpoints webhookLayout gives it.
func NewPopulation(orgs, individuals, managed int) *Population {
	p := &Population{File: &seed.File{}}
	completed := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
	deleted := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	for k := range max(orgs, 1) {
		o := &Org{ID: uuid.NewString(), AdminID: uuid.NewString(), CreditBalance: 1000, Endpoints: webhookLayout(k),
			AdminKey: "rk_faults_admin_" + random.Hex(16), AutomationKey: "rk_faults_auto_" + random.Hex(16)}
		p.Orgs = append(p.Orgs, o)
		p.File.Organizations = append(p.File.Organizations, seed.Organization{ID: o.ID, Name: fmt.Sprintf("Faults %d Inc", k), CreditBalance: o.CreditBalance,
			Admins:         []seed.Admin{{ID: o.AdminID, Email: fmt.Sprintf("lead%d@faults.test", k), Name: "Lead", Role: "owner", APIKey: o.AdminKey}},
			AutomationKeys: []string{o.AutomationKey}})
	}
	add := func(k int, m seed.Member) {
		f := &p.File.Organizations[k]
		f.Members = append(f.Members, m)
	}
	for i := range individuals {
		k := (i / 3) % len(p.Orgs)
		m := SeedMember{ID: uuid.NewString(), ShootID: uuid.NewString(), Email: fmt.Sprintf("ind%03d@faults.test", i), Org: p.Orgs[k]}
		p.Individuals = append(p.Individuals, m)
		add(k, seed.Member{ID: m.ID, Name: fmt.Sprintf("Individual %d", i), Email: &m.Email, Kind: domain.KindIndividual,
			Shoots: []seed.Shoot{{ID: m.ShootID, Status: domain.ShootActive, CompletedAt: &completed, Results: 3}}})
	}
	for i := range managed {
		k := (i / 4) % len(p.Orgs)
		m := SeedMember{ID: uuid.NewString(), ShootID: uuid.NewString(), Org: p.Orgs[k]}
		var email *string
		if i%2 == 0 {
			m.Email = fmt.Sprintf("man%03d@faults.test", i)
			email = &m.Email
		}
		p.Managed = append(p.Managed, m)
		add(k, seed.Member{ID: m.ID, Name: fmt.Sprintf("Managed %d", i), Email: email, Kind: domain.KindManaged,
			Shoots: []seed.Shoot{{ID: m.ShootID, Status: domain.ShootDeleted, CompletedAt: &completed, DeletedAt: &deleted, Results: 0}}})
	}
	return p
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
