package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/headshotpro/retryd/internal/linktoken"
)

// retrydPaths lists the measurements of retryd through its HTTP API, as admins,
// automation clients and members call it, each call on its own member.
func (r *runner) retrydPaths() []step {
	cfg, o, a := r.cfg, r.orgs, r.api
	give := func(ctx context.Context, i int, m member) error {
		_, err := a.call(ctx, i, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/retries", o.adminKey,
			map[string]string{"shoot_id": m.ShootID}, http.StatusCreated)
		return err
	}
	return []step{
		{KeyGiveSeq, func(ctx context.Context) error {
			return r.measure(ctx, Row{Key: KeyGiveSeq, Group: GroupRetryd, Name: "give-retry over HTTP, one at a time", Floor: KeyEngineShapedSeq},
				1, cfg.Gives, 1, func(ctx context.Context, i int) error { return give(ctx, i, o.givesSeq[i]) })
		}},
		{KeyGiveConc, func(ctx context.Context) error {
			answered := &answers{at: map[string]time.Time{}}
			began := time.Now()
			if err := r.measure(ctx, Row{Key: KeyGiveConc, Group: GroupRetryd, Name: fmt.Sprintf("give-retry over HTTP, %d admins at once", cfg.Concurrency), Floor: KeyEngineShapedConc},
				cfg.Concurrency, cfg.ConcurrentGives, 1, func(ctx context.Context, i int) error {
					m := o.givesConc[i]
					if err := give(ctx, i, m); err != nil {
						return err
					}
					answered.set(m.Email, time.Now())
					return nil
				}); err != nil {
				return err
			}
			return r.emailDrain(ctx, answered, began)
		}},
		{KeyStart, func(ctx context.Context) error {
			links, err := linktoken.NewSigner([]byte(r.t.LinkSecret), time.Hour)
			if err != nil {
				return err
			}
			return r.measure(ctx, Row{Key: KeyStart, Group: GroupRetryd, Name: "member start over HTTP (the signal path)", Floor: KeyEngineSignal},
				1, cfg.Starts, 1, func(ctx context.Context, i int) error {
					m := o.givesSeq[i]
					token, _ := links.Issue(m.ID, m.ShootID, time.Now())
					_, err := a.call(ctx, i, http.MethodPost, "/api/v1/member/shoots/"+m.ShootID+"/start", token, nil, http.StatusOK)
					return err
				})
		}},
		{KeyRestart, func(ctx context.Context) error {
			return r.measure(ctx, Row{Key: KeyRestart, Group: GroupRetryd, Name: "restart over HTTP, one at a time", Floor: KeyEngineShapedSeq},
				1, cfg.Restarts, 1, func(ctx context.Context, i int) error {
					_, err := a.call(ctx, i, http.MethodPost, "/api/v1/admin/members/"+o.restarts[i].ID+"/restarts", o.adminKey, nil, http.StatusCreated)
					return err
				})
		}},
		{KeyBulk, func(ctx context.Context) error {
			return r.measure(ctx, Row{Key: KeyBulk, Group: GroupRetryd, Name: fmt.Sprintf("bulk restart of %d members over HTTP", cfg.BulkSize), Floor: KeyEngineBulk,
				Note: "per call"}, 1, cfg.BulkCalls, cfg.BulkSize, func(ctx context.Context, i int) error {
				ids := make([]string, 0, cfg.BulkSize)
				for _, m := range o.bulk[i] {
					ids = append(ids, m.ID)
				}
				raw, err := a.call(ctx, i, http.MethodPost, "/api/v1/admin/restarts", o.automationKey,
					map[string]any{"member_ids": ids}, http.StatusOK)
				if err != nil {
					return err
				}
				return allRestarted(raw)
			})
		}},
	}
}

// allRestarted checks a bulk answer: a skipped or failed member would make the call
// cheaper than the path it stands for.
func allRestarted(raw []byte) error {
	var body struct {
		Results []struct {
			MemberID string  `json:"member_id"`
			Outcome  string  `json:"outcome"`
			Code     *string `json:"code"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return fmt.Errorf("bulk answer: %w", err)
	}
	for _, res := range body.Results {
		if res.Outcome != "restarted" {
			code := ""
			if res.Code != nil {
				code = *res.Code
			}
			return fmt.Errorf("bulk restart of %s: %s %s", res.MemberID, res.Outcome, code)
		}
	}
	return nil
}

// emailDrain waits for the emails of the concurrent gives in the local mailbox and
// reports, per email, how long after the give's answer it was delivered, and the emails
// per second from the first give to the last delivery.
func (r *runner) emailDrain(ctx context.Context, answered *answers, began time.Time) error {
	deadline := time.Now().Add(r.cfg.EmailTimeout)
	want := len(r.orgs.givesConc)
	for {
		msgs, err := r.api.messages(ctx)
		if err != nil {
			return err
		}
		var delays []time.Duration
		var last time.Time
		seen := map[string]bool{}
		for _, m := range msgs {
			if len(m.To) != 1 || seen[m.To[0]] {
				continue
			}
			at, ok := answered.get(m.To[0])
			if !ok {
				continue
			}
			seen[m.To[0]] = true
			delays = append(delays, max(m.ReceivedAt.Sub(at), 0))
			if m.ReceivedAt.After(last) {
				last = m.ReceivedAt
			}
		}
		if len(delays) == want {
			r.add(Row{Key: KeyEmail, Group: GroupRetryd, Name: "retry email delivered after the 201", Floor: KeyEngineEmail,
				Note: "of the gives at once", Sum: summarize(delays, last.Sub(began), r.cfg.Concurrency, 1)})
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("email drain: %d of %d emails delivered within %s", len(delays), want, r.cfg.EmailTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// answers records when each call got its answer, for the email drain.
type answers struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (a *answers) set(key string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.at[key] = t
}

func (a *answers) get(key string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[key]
	return t, ok
}
