package activities_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/assert"
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
			m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual,
				RetryCredits: tc.credits, FreeRetryAvailable: ptr(tc.free), Shoots: []seed.Shoot{finishedShoot(3)}}
			f.seedOrg(&m)
			memberID, shootID := m.ID, m.Shoots[0].ID
			in := f.retryInput(memberID, shootID)

			var first, second activities.ReserveRetryResult
			f.must(&first, f.acts.ReserveRetry, in)
			f.must(&second, f.acts.ReserveRetry, in)
			assert.Equal(t, "first.AllowanceUsed", first.AllowanceUsed, tc.wantAllowance)
			assert.Equal(t, "the second run answers what the first reserved", second, first)

			got := f.member(memberID)
			assert.Equal(t, "retry_credits consumed once", got.RetryCredits, tc.wantCredits)
			assert.Equal(t, "free_retry_available", got.FreeRetryAvailable, tc.wantFreeAvailable)

			assert.Equal(t, "retries rows", f.count(`SELECT count(*) FROM retries WHERE shoot_id = ?`, shootID), 1)
			r := f.retry(in.RetryID)
			assert.Equal(t, "r.Status", r.Status, domain.StatusPending)
			assert.Equal(t, "r.Stage", r.Stage, "resetting")
			assert.Equal(t, "r.AllowanceUsed", r.AllowanceUsed, tc.wantAllowance)
			assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailQueued)
			assert.Equal(t, "r.WorkflowID", r.WorkflowID, in.WorkflowID)
			assert.Equal(t, "retry.give audit events", f.count(`SELECT count(*) FROM audit_events WHERE action = 'retry.give'`), 1)
			assert.Equal(t, "f.count(`SELECT count(*) FROM audit_events WHERE action = 'retry.give' AND target_id = ? AND org_id = ?`, in.RetryID, f.orgID)", f.count(`SELECT count(*) FROM audit_events WHERE action = 'retry.give' AND target_id = ? AND org_id = ?`, in.RetryID, f.orgID), 1)

			// Reserving alone changes nothing about the shoot: that is the later activities' work.
			s := f.shoot(shootID)
			assert.Equal(t, "s.Status", s.Status, domain.ShootActive)
			assert.Equal(t, "f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, shootID)", f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, shootID), 3)
		})
	}
}

func TestGiveRetryRefusedIsNonRetryableAndChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		member   seed.Member
		input    func(f *fixture, m seed.Member) activities.ReserveRetryInput
		wantType string
	}{
		{
			name:     "shoot not finished",
			member:   seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, RetryCredits: 1, Shoots: []seed.Shoot{{Status: domain.ShootWaiting}}},
			wantType: "shoot_not_finished",
		},
		{
			name: "allowance exhausted",
			member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual,
				FreeRetryAvailable: ptr(false), Shoots: []seed.Shoot{finishedShoot(2)}},
			wantType: "retry_credits_exhausted",
		},
		{
			name: "window expired",
			member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, RetryCredits: 1,
				Shoots: []seed.Shoot{{Status: domain.ShootActive, CompletedAt: ptr(time.Now().UTC().Add(-61 * 24 * time.Hour)), Results: 2}}},
			wantType: "retry_window_expired",
		},
		{
			name:   "shoot of another member",
			member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, RetryCredits: 1, Shoots: []seed.Shoot{finishedShoot(2)}},
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

			// Both the one-step give and the three-step reservation refuse, again on a
			// re-run, the same way.
			for _, give := range []any{f.acts.GiveRetry, f.acts.ReserveRetry} {
				for range 2 {
					err := f.exec(nil, give, in)
					ae := applicationError(t, err)
					assert.Equal(t, "ae.Type()", ae.Type(), tc.wantType)
					if !ae.NonRetryable() {
						t.Errorf("a broken rule must not be retried")
					}
				}
			}

			assert.Equal(t, "member unchanged", f.member(m.ID), before)
			assert.Equal(t, "shoot unchanged", f.shoot(m.Shoots[0].ID), shootBefore)
			assert.Equal(t, "no retry recorded", f.count(`SELECT count(*) FROM retries`), 0)
			assert.Equal(t, "no audit event", f.count(`SELECT count(*) FROM audit_events`), 0)
			assert.Equal(t, "results unchanged", f.count(`SELECT count(*) FROM results`), resultsBefore)
		})
	}
}

// The one-step give reserves, deletes the results and resets the shoot in one
// transaction; run again (a local activity retried after its commit), it answers what
// it gave and changes nothing more.
func TestGiveRetryTwiceGivesOnce(t *testing.T) {
	f := newFixture(t)
	m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, RetryCredits: 2,
		Shoots: []seed.Shoot{finishedShoot(3)}}
	other := seed.Member{Name: "Bob", Email: ptr("bob@example.test"), Kind: domain.KindIndividual, Shoots: []seed.Shoot{finishedShoot(2)}}
	f.seedOrg(&m, &other)
	shootID := m.Shoots[0].ID
	in := f.retryInput(m.ID, shootID)

	var first, second activities.ReserveRetryResult
	f.must(&first, f.acts.GiveRetry, in)
	afterFirst := f.shoot(shootID)
	f.must(&second, f.acts.GiveRetry, in)
	assert.Equal(t, "allowance", first.AllowanceUsed, "retry_credit")
	assert.Equal(t, "the second run answers what the first gave", second, first)

	assert.Equal(t, "retry credits consumed once", f.member(m.ID).RetryCredits, 1)
	r := f.retry(in.RetryID)
	assert.Equal(t, "r.Status", r.Status, domain.StatusPending)
	assert.Equal(t, "r.Stage (pending at once: no resetting stage)", r.Stage, "pending")
	assert.Equal(t, "r.WorkflowID", r.WorkflowID, in.WorkflowID)
	assert.Equal(t, "retry.give audit events", f.count(`SELECT count(*) FROM audit_events WHERE action = 'retry.give' AND target_id = ?`, in.RetryID), 1)

	s := f.shoot(shootID)
	assert.Equal(t, "s.Status", s.Status, domain.ShootOnboarding)
	assert.Equal(t, "retry_count incremented exactly once", s.RetryCount, 1)
	assert.Equal(t, "next submission free", s.NextSubmissionFree, true)
	if s.CompletedAt != nil || s.StartedAt != nil || s.SubmittedAt != nil {
		t.Errorf("shoot times = %v, %v, %v; want all cleared", s.CompletedAt, s.StartedAt, s.SubmittedAt)
	}
	assert.Equal(t, "the second run wrote nothing", s.UpdatedAt, afterFirst.UpdatedAt)
	assert.Equal(t, "results of the retried shoot", f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, shootID), 0)
	assert.Equal(t, "another member's results are untouched", f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, other.Shoots[0].ID), 2)

	// The member goes through the retried shoot and the pipeline stores a new result: a
	// late re-run must not delete it.
	newResult := &store.Result{ID: uuid.NewString(), ShootID: shootID, StorageKey: "results/new/1.jpg", CreatedAt: time.Now()}
	if _, err := f.db.NewInsert().Model(newResult).Exec(f.ctx); err != nil {
		t.Fatal(err)
	}
	f.must(nil, f.acts.GiveRetry, in)
	assert.Equal(t, "the new result survives", f.count(`SELECT count(*) FROM results WHERE id = ?`, newResult.ID), 1)
}

// A retry whose three-step run stopped after the reservation (recorded at stage
// resetting, results and shoot untouched) is completed by the one-step give of the run
// that resumes it, without consuming again.
func TestGiveRetryCompletesAThreeStepReservation(t *testing.T) {
	f := newFixture(t)
	m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, RetryCredits: 2,
		Shoots: []seed.Shoot{finishedShoot(3)}}
	f.seedOrg(&m)
	shootID := m.Shoots[0].ID
	in := f.retryInput(m.ID, shootID)
	f.must(nil, f.acts.ReserveRetry, in)
	assert.Equal(t, "stage after the reservation alone", f.retry(in.RetryID).Stage, "resetting")

	var res activities.ReserveRetryResult
	f.must(&res, f.acts.GiveRetry, in)
	assert.Equal(t, "allowance", res.AllowanceUsed, "retry_credit")
	assert.Equal(t, "retry credits consumed once", f.member(m.ID).RetryCredits, 1)
	assert.Equal(t, "r.Stage", f.retry(in.RetryID).Stage, "pending")
	s := f.shoot(shootID)
	assert.Equal(t, "s.Status", s.Status, domain.ShootOnboarding)
	assert.Equal(t, "s.RetryCount", s.RetryCount, 1)
	assert.Equal(t, "results", f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, shootID), 0)
}

func TestDeleteResultsOnceAndNeverAfterReset(t *testing.T) {
	f := newFixture(t)
	m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, Shoots: []seed.Shoot{finishedShoot(4)}}
	other := seed.Member{Name: "Bob", Email: ptr("bob@example.test"), Kind: domain.KindIndividual, Shoots: []seed.Shoot{finishedShoot(2)}}
	f.seedOrg(&m, &other)
	shootID := m.Shoots[0].ID
	in := f.retryInput(m.ID, shootID)
	f.must(nil, f.acts.ReserveRetry, in)

	var n int64
	f.must(&n, f.acts.DeleteResults, in.RetryID)
	assert.Equal(t, "first run deletes the shoot's results", n, 4)
	f.must(&n, f.acts.DeleteResults, in.RetryID)
	assert.Equal(t, "second run has nothing left to delete", n, 0)
	assert.Equal(t, "f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, shootID)", f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, shootID), 0)
	assert.Equal(t, "another member's results are untouched", f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, other.Shoots[0].ID), 2)

	f.must(nil, f.acts.ResetShoot, in.RetryID)
	// The member goes through the retried shoot and the pipeline stores a new result.
	newResult := &store.Result{ID: uuid.NewString(), ShootID: shootID, StorageKey: "results/new/1.jpg", CreatedAt: time.Now()}
	_, err := f.db.NewInsert().Model(newResult).Exec(f.ctx)
	if err != nil {
		t.Fatal(err)
	}

	f.must(&n, f.acts.DeleteResults, in.RetryID) // a late re-run of the activity
	assert.Equal(t, "no result deleted once the retry left stage resetting", n, 0)
	assert.Equal(t, "the new result survives", f.count(`SELECT count(*) FROM results WHERE id = ?`, newResult.ID), 1)
	assert.Equal(t, "f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, other.Shoots[0].ID)", f.count(`SELECT count(*) FROM results WHERE shoot_id = ?`, other.Shoots[0].ID), 2)
}

func TestResetShootTwiceResetsOnce(t *testing.T) {
	f := newFixture(t)
	m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, Shoots: []seed.Shoot{finishedShoot(2)}}
	f.seedOrg(&m)
	shootID := m.Shoots[0].ID
	in := f.retryInput(m.ID, shootID)
	f.must(nil, f.acts.ReserveRetry, in)
	f.must(nil, f.acts.DeleteResults, in.RetryID)

	f.must(nil, f.acts.ResetShoot, in.RetryID)
	afterFirst := f.shoot(shootID)
	f.must(nil, f.acts.ResetShoot, in.RetryID)

	s := f.shoot(shootID)
	assert.Equal(t, "s.Status", s.Status, domain.ShootOnboarding)
	assert.Equal(t, "retry_count incremented exactly once", s.RetryCount, 1)
	if s.CompletedAt != nil {
		t.Errorf("s.CompletedAt = %#v, want nil", s.CompletedAt)
	}
	if !s.NextSubmissionFree {
		t.Errorf("s.NextSubmissionFree = false, want true")
	}
	if s.StartedAt != nil {
		t.Errorf("s.StartedAt = %#v, want nil", s.StartedAt)
	}
	if s.SubmittedAt != nil {
		t.Errorf("s.SubmittedAt = %#v, want nil", s.SubmittedAt)
	}
	assert.Equal(t, "the second run wrote nothing", s.UpdatedAt, afterFirst.UpdatedAt)

	r := f.retry(in.RetryID)
	assert.Equal(t, "r.Stage", r.Stage, "pending")
	assert.Equal(t, "r.Status", r.Status, domain.StatusPending)

	// Once the member has started, a late ResetShoot must not put the shoot back.
	_, err := store.StartShoot(f.ctx, f.db, m.ID, shootID, "req-start", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.SubmitShoot(f.ctx, f.db, m.ID, shootID, "req-submit", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.must(nil, f.acts.ResetShoot, in.RetryID)
	s = f.shoot(shootID)
	assert.Equal(t, "a submitted shoot is not reset again", s.Status, domain.ShootWaiting)
	assert.Equal(t, "s.RetryCount", s.RetryCount, 1)
	if s.SubmittedAt == nil {
		t.Errorf("s.SubmittedAt = %#v, want not nil", s.SubmittedAt)
	}
	assert.Equal(t, "f.retry(in.RetryID).Status", f.retry(in.RetryID).Status, domain.StatusStarted)
}

func TestResetShootUnknownRetryIsNonRetryable(t *testing.T) {
	f := newFixture(t)
	err := f.exec(nil, f.acts.ResetShoot, uuid.NewString())
	ae := applicationError(t, err)
	assert.Equal(t, "ae.Type()", ae.Type(), "not_found")
	if !ae.NonRetryable() {
		t.Errorf("ae.NonRetryable() = false, want true")
	}
}

// A give run again after the member started (a repeated give read the retry pending just
// before the start) tells its run so, and the run ends instead of waiting for a start
// that already happened.
func TestGiveRetryAfterTheStartSaysStarted(t *testing.T) {
	f := newFixture(t)
	m := seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual, Shoots: []seed.Shoot{finishedShoot(1)}}
	f.seedOrg(&m)
	in := f.retryInput(m.ID, m.Shoots[0].ID)
	var first, again activities.ReserveRetryResult
	f.must(&first, f.acts.GiveRetry, in)
	if first.Resume != nil {
		t.Fatalf("a new retry resumes %+v, want nothing", first.Resume)
	}
	if _, err := store.StartShoot(f.ctx, f.db, m.ID, m.Shoots[0].ID, "req-start", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.must(&again, f.acts.GiveRetry, in)
	if again.Resume == nil || !again.Resume.Started {
		t.Fatalf("the give after the start resumes %+v, want Started", again.Resume)
	}
}
