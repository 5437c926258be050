package activities_test

import (
	"sync"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/assert"
)

// Temporal may start a second attempt of a database step while the first is still running
// (a start-to-close timeout on an attempt stuck behind a row lock). Both attempts have then
// passed the "already recorded?" check before either committed; the second must still
// answer the first one's retry or restart instead of refusing its own, and the step's work
// is done once.
func TestConcurrentDuplicateAttempts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		member seed.Member
		// step returns one attempt of the step, the same input each time, and what a
		// successful attempt answers.
		step func(f *fixture, m seed.Member) (attempt func(*testsuite.TestActivityEnvironment) (string, error), want string)
		// once checks that the step's work was done once.
		once func(t *testing.T, f *fixture, m seed.Member)
	}{
		{
			name:   "ReserveRetry",
			member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, Shoots: []seed.Shoot{finishedShoot(1)}},
			step: func(f *fixture, m seed.Member) (func(*testsuite.TestActivityEnvironment) (string, error), string) {
				in := f.retryInput(m.ID, m.Shoots[0].ID)
				return func(env *testsuite.TestActivityEnvironment) (string, error) {
					var res activities.ReserveRetryResult
					err := execIn(env, &res, f.acts.ReserveRetry, in)
					return res.AllowanceUsed, err
				}, "free_retry"
			},
			once: func(t *testing.T, f *fixture, m seed.Member) {
				assert.Equal(t, "retries of the member", f.count(`SELECT count(*) FROM retries WHERE member_id = ?`, m.ID), 1)
				assert.Equal(t, "free retry available", f.member(m.ID).FreeRetryAvailable, false)
				assert.Equal(t, "retry.give audit events", f.count(`SELECT count(*) FROM audit_events WHERE action = 'retry.give'`), 1)
			},
		},
		{
			name:   "CreateRestart",
			member: managed(nil),
			step: func(f *fixture, m seed.Member) (func(*testsuite.TestActivityEnvironment) (string, error), string) {
				in := f.restartInput(m.ID)
				return func(env *testsuite.TestActivityEnvironment) (string, error) {
					var res activities.CreateRestartResult
					err := execIn(env, &res, f.acts.CreateRestart, in)
					return res.OldShootID, err
				}, m.Shoots[0].ID
			},
			once: func(t *testing.T, f *fixture, m seed.Member) {
				assert.Equal(t, "restarts of the member", f.count(`SELECT count(*) FROM restarts WHERE member_id = ?`, m.ID), 1)
				assert.Equal(t, "shoots of the member (the deleted one and one new)", f.count(`SELECT count(*) FROM shoots WHERE member_id = ?`, m.ID), 2)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := tc.member
			f.seedOrg(&m)
			attempt, want := tc.step(f, m)

			// Hold the member's row lock so both attempts queue behind it.
			blocker, err := f.db.BeginTx(f.ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = blocker.Rollback() }()
			if _, err := blocker.NewRaw(`SELECT 1 FROM members WHERE id = ? FOR UPDATE`, m.ID).Exec(f.ctx); err != nil {
				t.Fatal(err)
			}

			envs := [2]*testsuite.TestActivityEnvironment{f.newEnv(), f.newEnv()}
			answers, errs := make([]string, 2), make([]error, 2)
			var wg sync.WaitGroup
			for i := range envs {
				wg.Go(func() { answers[i], errs[i] = attempt(envs[i]) })
			}
			waitForLockWaiters(t, f, 2)
			if err := blocker.Commit(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()

			tc.once(t, f, m)
			for i := range errs {
				if errs[i] != nil {
					t.Errorf("attempt %d: %v", i, errs[i])
					continue
				}
				assert.Equal(t, "answer of an attempt", answers[i], want)
			}
		})
	}
}
