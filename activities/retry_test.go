package activities_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
)

func TestReserveRetryTwiceConsumesOnce(t *testing.T) {
	for _, tc := range []struct {
		name              string
		credits           int
		free              bool
		wantAllowance     string
		wantCredits       int
		wantFreeAvailable bool
	}{
		{name: "retry credit first", credits: 2, free: true, wantAllowance: "retry_credit", wantCredits: 1, wantFreeAvailable: true},
		{name: "free retry", credits: 0, free: true, wantAllowance: "free_retry", wantCredits: 0, wantFreeAvailable: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual,
				RetryCredits: tc.credits, FreeRetryAvailable: ptr(tc.free), Shoots: []seed.Shoot{finishedShoot(3)}}
			f.seedOrg(&m)
			memberID, shootID := m.ID, m.Shoots[0].ID
			in := f.retryInput(memberID, shootID)

			var first, second activities.ReserveRetryResult
			f.must(&first, f.acts.ReserveRetry, in)
			f.must(&second, f.acts.ReserveRetry, in)
			assert.Equal(t, tc.wantAllowance, first.AllowanceUsed)
			assert.Equal(t, first, second, "the second run answers what the first reserved")

			got := f.member(memberID)
			assert.Equal(t, tc.wantCredits, got.RetryCredits, "retry_credits consumed once")
			assert.Equal(t, tc.wantFreeAvailable, got.FreeRetryAvailable, "free_retry_available")

			assert.Equal(t, 1, f.count(`SELECT count(*) FROM retries WHERE shoot_id = ?`, shootID), "retries rows")
			r := f.retry(in.RetryID)
			assert.Equal(t, store.StatusPending, r.Status)
			assert.Equal(t, "resetting", r.Stage)
			assert.Equal(t, tc.wantAllowance, r.AllowanceUsed)
			assert.Equal(t, store.EmailQueued, r.EmailStatus)
			assert.Equal(t, in.WorkflowID, r.WorkflowID)
			assert.Equal(t, 1, f.count(`SELECT count(*) FROM audit_events WHERE action = 'retry.give'`), "retry.give audit events")
			assert.Equal(t, 1, f.count(`SELECT count(*) FROM audit_events WHERE action = 'retry.give' AND target_id = ? AND org_id = ?`, in.RetryID, f.orgID))

			// Reserving alone changes nothing about the shoot: that is the later activities' work.
			s := f.shoot(shootID)
			assert.Equal(t, store.ShootActive, s.Status)
			assert.Equal(t, 3, f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, shootID))
		})
	}
}

// Temporal may start a second attempt while the first is still running (a start-to-close
// timeout on an attempt stuck behind a row lock). Both attempts have then passed the
// "already recorded?" check before either reserved; the second must still answer the
// first one's reservation instead of refusing its own retry.
func TestReserveRetryConcurrentDuplicateAttempts(t *testing.T) {
	f := newFixture(t)
	m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual, Shoots: []seed.Shoot{finishedShoot(1)}}
	f.seedOrg(&m)
	in := f.retryInput(m.ID, m.Shoots[0].ID)

	// Hold the member's row lock so both attempts queue behind it.
	blocker, err := f.db.BeginTx(f.ctx, nil)
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback() }()
	_, err = blocker.NewRaw(`SELECT 1 FROM members WHERE id = ? FOR UPDATE`, m.ID).Exec(f.ctx)
	require.NoError(t, err)

	envs := [2]*testsuite.TestActivityEnvironment{f.newEnv(), f.newEnv()}
	var wg sync.WaitGroup
	results := make([]activities.ReserveRetryResult, 2)
	errs := make([]error, 2)
	for i := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = execIn(envs[i], &results[i], f.acts.ReserveRetry, in)
		}()
	}
	waitForLockWaiters(t, f, 2)
	require.NoError(t, blocker.Commit())
	wg.Wait()

	// Whatever the attempts answered, the allowance is consumed once.
	assert.Equal(t, 1, f.count(`SELECT count(*) FROM retries WHERE member_id = ?`, m.ID))
	assert.False(t, f.member(m.ID).FreeRetryAvailable)
	assert.Equal(t, 1, f.count(`SELECT count(*) FROM audit_events WHERE action = 'retry.give'`))
	for i := range errs {
		if assert.NoErrorf(t, errs[i], "attempt %d", i) {
			assert.Equal(t, "free_retry", results[i].AllowanceUsed)
		}
	}
}

func TestReserveRetryRefusedIsNonRetryableAndChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		member   seed.Member
		input    func(f *fixture, m seed.Member) activities.ReserveRetryInput
		wantType string
	}{
		{
			name:     "shoot not finished",
			member:   seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual, RetryCredits: 1, Shoots: []seed.Shoot{{Status: store.ShootWaiting}}},
			wantType: "shoot_not_finished",
		},
		{
			name: "allowance exhausted",
			member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual,
				FreeRetryAvailable: ptr(false), Shoots: []seed.Shoot{finishedShoot(2)}},
			wantType: "retry_credits_exhausted",
		},
		{
			name: "window expired",
			member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual, RetryCredits: 1,
				Shoots: []seed.Shoot{{Status: store.ShootActive, CompletedAt: ptr(time.Now().UTC().Add(-61 * 24 * time.Hour)), Results: 2}}},
			wantType: "retry_window_expired",
		},
		{
			name:   "shoot of another member",
			member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual, RetryCredits: 1, Shoots: []seed.Shoot{finishedShoot(2)}},
			input: func(f *fixture, m seed.Member) activities.ReserveRetryInput {
				return f.retryInput(m.ID, uuid.NewString())
			},
			wantType: "not_found",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := tc.member
			f.seedOrg(&m)
			in := f.retryInput(m.ID, m.Shoots[0].ID)
			if tc.input != nil {
				in = tc.input(f, m)
			}
			before, shootBefore := f.member(m.ID), f.shoot(m.Shoots[0].ID)
			resultsBefore := f.count(`SELECT count(*) FROM results`)

			for range 2 { // refused again on a re-run, the same way
				err := f.exec(nil, f.acts.ReserveRetry, in)
				ae := applicationError(t, err)
				assert.Equal(t, tc.wantType, ae.Type())
				assert.True(t, ae.NonRetryable(), "a broken rule must not be retried")
			}

			assert.Equal(t, before, f.member(m.ID), "member unchanged")
			assert.Equal(t, shootBefore, f.shoot(m.Shoots[0].ID), "shoot unchanged")
			assert.Equal(t, 0, f.count(`SELECT count(*) FROM retries`), "no retry recorded")
			assert.Equal(t, 0, f.count(`SELECT count(*) FROM audit_events`), "no audit event")
			assert.Equal(t, resultsBefore, f.count(`SELECT count(*) FROM results`), "results unchanged")
		})
	}
}

func TestDeleteResultsOnceAndNeverAfterReset(t *testing.T) {
	f := newFixture(t)
	m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual, Shoots: []seed.Shoot{finishedShoot(4)}}
	other := seed.Member{Name: "Bob", Email: ptr("bob@example.test"), Kind: store.KindIndividual, Shoots: []seed.Shoot{finishedShoot(2)}}
	f.seedOrg(&m, &other)
	shootID := m.Shoots[0].ID
	in := f.retryInput(m.ID, shootID)
	f.must(nil, f.acts.ReserveRetry, in)

	var n int64
	f.must(&n, f.acts.DeleteResults, in.RetryID)
	assert.EqualValues(t, 4, n, "first run deletes the shoot's results")
	f.must(&n, f.acts.DeleteResults, in.RetryID)
	assert.EqualValues(t, 0, n, "second run has nothing left to delete")
	assert.Equal(t, 0, f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, shootID))
	assert.Equal(t, 2, f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, other.Shoots[0].ID), "another member's results are untouched")

	f.must(nil, f.acts.ResetShoot, in.RetryID)
	// The member goes through the retried shoot and the pipeline stores a new result.
	newResult := &store.Result{ID: uuid.NewString(), ShootID: shootID, StorageKey: "results/new/1.jpg", CreatedAt: time.Now()}
	_, err := f.db.NewInsert().Model(newResult).Exec(f.ctx)
	require.NoError(t, err)

	f.must(&n, f.acts.DeleteResults, in.RetryID) // a late re-run of the activity
	assert.EqualValues(t, 0, n, "no result deleted once the retry left stage resetting")
	assert.Equal(t, 1, f.count(`SELECT count(*) FROM results WHERE id = ?`, newResult.ID), "the new result survives")
	assert.Equal(t, 2, f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, other.Shoots[0].ID))
}

func TestResetShootTwiceResetsOnce(t *testing.T) {
	f := newFixture(t)
	m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual, Shoots: []seed.Shoot{finishedShoot(2)}}
	f.seedOrg(&m)
	shootID := m.Shoots[0].ID
	in := f.retryInput(m.ID, shootID)
	f.must(nil, f.acts.ReserveRetry, in)
	f.must(nil, f.acts.DeleteResults, in.RetryID)

	f.must(nil, f.acts.ResetShoot, in.RetryID)
	afterFirst := f.shoot(shootID)
	f.must(nil, f.acts.ResetShoot, in.RetryID)

	s := f.shoot(shootID)
	assert.Equal(t, store.ShootOnboarding, s.Status)
	assert.Equal(t, 1, s.RetryCount, "retry_count incremented exactly once")
	assert.Nil(t, s.CompletedAt)
	assert.True(t, s.NextSubmissionFree)
	assert.Nil(t, s.StartedAt)
	assert.Nil(t, s.SubmittedAt)
	assert.Equal(t, afterFirst.UpdatedAt, s.UpdatedAt, "the second run wrote nothing")

	r := f.retry(in.RetryID)
	assert.Equal(t, "pending", r.Stage)
	assert.Equal(t, store.StatusPending, r.Status)

	// Once the member has started, a late ResetShoot must not put the shoot back.
	_, err := store.StartShoot(f.ctx, f.db, m.ID, shootID, "req-start", time.Now())
	require.NoError(t, err)
	_, err = store.SubmitShoot(f.ctx, f.db, m.ID, shootID, "req-submit", time.Now())
	require.NoError(t, err)
	f.must(nil, f.acts.ResetShoot, in.RetryID)
	s = f.shoot(shootID)
	assert.Equal(t, store.ShootWaiting, s.Status, "a submitted shoot is not reset again")
	assert.Equal(t, 1, s.RetryCount)
	assert.NotNil(t, s.SubmittedAt)
	assert.Equal(t, store.StatusStarted, f.retry(in.RetryID).Status)
}

func TestResetShootUnknownRetryIsNonRetryable(t *testing.T) {
	f := newFixture(t)
	err := f.exec(nil, f.acts.ResetShoot, uuid.NewString())
	ae := applicationError(t, err)
	assert.Equal(t, "not_found", ae.Type())
	assert.True(t, ae.NonRetryable())
}
