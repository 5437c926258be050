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

// managed is a managed member whose only shoot was deleted: eligible for a restart.
func managed(email *string) seed.Member {
	return seed.Member{Name: "Grace Hopper", Email: email, Kind: store.KindManaged,
		Shoots: []seed.Shoot{{Status: store.ShootDeleted, DeletedAt: ptr(time.Now().UTC().Add(-48 * time.Hour)), Results: 2}}}
}

func (f *fixture) restartInput(memberID string) activities.CreateRestartInput {
	return activities.CreateRestartInput{
		RestartID: uuid.NewString(), OrgID: f.orgID, MemberID: memberID, NewShootID: uuid.NewString(),
		WorkflowID: "restart-" + memberID, IssuedByKind: store.ActorAdmin, IssuedBy: f.adminID, RequestID: "req-restart",
	}
}

func TestCreateRestartTwiceCreatesOnce(t *testing.T) {
	f := newFixture(t)
	m := managed(nil)
	f.seedOrg(&m)
	oldShootID := m.Shoots[0].ID
	in := f.restartInput(m.ID)

	var first, second activities.CreateRestartResult
	f.must(&first, f.acts.CreateRestart, in)
	f.must(&second, f.acts.CreateRestart, in)
	assert.Equal(t, activities.CreateRestartResult{OldShootID: oldShootID, HasEmail: false}, first)
	assert.Equal(t, first, second)

	assert.Equal(t, 2, f.count(`SELECT count(*) FROM shoots WHERE member_id = ?`, m.ID), "the deleted shoot and one new one")
	s := f.shoot(in.NewShootID)
	assert.Equal(t, store.ShootOnboarding, s.Status)
	assert.Equal(t, m.ID, s.MemberID)
	assert.Equal(t, store.ShootDeleted, f.shoot(oldShootID).Status, "the old shoot stays deleted")
	assert.Equal(t, 1, f.count(`SELECT count(*) FROM restarts WHERE member_id = ?`, m.ID))
	r := f.restart(in.RestartID)
	assert.Equal(t, store.StatusPending, r.Status)
	assert.Equal(t, oldShootID, r.OldShootID)
	assert.Equal(t, in.NewShootID, r.NewShootID)
	assert.Equal(t, store.EmailNotApplicable, r.EmailStatus)
	assert.Equal(t, 1, f.count(`SELECT count(*) FROM audit_events WHERE action = 'shoot.restart' AND target_id = ?`, in.RestartID))

	// No address: nothing to send, and nothing recorded as sent.
	var res activities.SendEmailResult
	f.must(&res, f.acts.SendRestartEmail, activities.SendEmailInput{SubjectID: in.RestartID, Seq: 0, Kind: store.EmailKindInitial})
	assert.True(t, res.Skipped)
	assert.False(t, res.AlreadyStarted)
	assert.Empty(t, res.MessageID)
	assert.Equal(t, 0, f.mailbox.Len())
	assert.Empty(t, f.emails(in.RestartID))
	assert.Equal(t, store.EmailNotApplicable, f.restart(in.RestartID).EmailStatus)

	// Canceled before the member touched it: the new shoot goes back to deleted.
	f.must(nil, f.acts.SetRestartStage, in.RestartID, store.StatusFailed)
	f.must(nil, f.acts.SetRestartStage, in.RestartID, store.StatusFailed)
	s = f.shoot(in.NewShootID)
	assert.Equal(t, store.ShootDeleted, s.Status)
	assert.NotNil(t, s.DeletedAt)
	r = f.restart(in.RestartID)
	assert.Equal(t, store.StatusFailed, r.Status)
	assert.Equal(t, store.StatusFailed, r.Stage)

	// The member can be restarted again.
	again := f.restartInput(m.ID)
	var third activities.CreateRestartResult
	f.must(&third, f.acts.CreateRestart, again)
	assert.Equal(t, in.NewShootID, third.OldShootID, "the most recent deleted shoot is the one restarted")
}

func TestRestartEmailSentOnce(t *testing.T) {
	f := newFixture(t)
	m := managed(ptr("grace@example.test"))
	f.seedOrg(&m)
	in := f.restartInput(m.ID)
	var created activities.CreateRestartResult
	f.must(&created, f.acts.CreateRestart, in)
	assert.True(t, created.HasEmail)

	email := activities.SendEmailInput{SubjectID: in.RestartID, Seq: 0, Kind: store.EmailKindInitial}
	var first, second activities.SendEmailResult
	f.must(&first, f.acts.SendRestartEmail, email)
	f.must(&second, f.acts.SendRestartEmail, email)
	require.NotEmpty(t, first.MessageID)
	assert.Equal(t, first, second)
	msgs := f.mailbox.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, []string{"grace@example.test"}, msgs[0].To)
	assertActionLink(t, f, msgs[0].Text, m.ID, in.NewShootID)
	r := f.restart(in.RestartID)
	assert.Equal(t, store.EmailSent, r.EmailStatus)
	require.NotNil(t, r.EmailMessageID)
	assert.Equal(t, first.MessageID, *r.EmailMessageID)

	// Once started, the restart is not failed and its shoot is not deleted by a late stage.
	_, err := store.StartShoot(f.ctx, f.db, m.ID, in.NewShootID, "req-start", time.Now())
	require.NoError(t, err)
	var skipped activities.SendEmailResult
	f.must(&skipped, f.acts.SendRestartEmail, activities.SendEmailInput{SubjectID: in.RestartID, Seq: 1, Kind: store.EmailKindReminder, Reminder: 1})
	assert.True(t, skipped.Skipped)
	assert.True(t, skipped.AlreadyStarted)
	assert.Equal(t, 1, f.mailbox.Len())
	f.must(nil, f.acts.SetRestartStage, in.RestartID, store.StatusFailed)
	assert.Equal(t, store.StatusStarted, f.restart(in.RestartID).Status)
	assert.Equal(t, store.ShootOnboarding, f.shoot(in.NewShootID).Status)
}

func TestSetRestartStageFailedKeepsSubmittedShoot(t *testing.T) {
	f := newFixture(t)
	m := managed(nil)
	f.seedOrg(&m)
	in := f.restartInput(m.ID)
	f.must(nil, f.acts.CreateRestart, in)
	// The member submitted photos while the workflow was being canceled: the restart is
	// still pending (the start was not recorded on it), but the shoot is no longer untouched.
	_, err := f.db.NewRaw(`UPDATE shoots SET status = 'waiting', submitted_at = now() WHERE id = ?`, in.NewShootID).Exec(f.ctx)
	require.NoError(t, err)

	f.must(nil, f.acts.SetRestartStage, in.RestartID, store.StatusFailed)
	assert.Equal(t, store.StatusFailed, f.restart(in.RestartID).Status)
	s := f.shoot(in.NewShootID)
	assert.Equal(t, store.ShootWaiting, s.Status)
	assert.Nil(t, s.DeletedAt)
}

func TestCreateRestartRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		member   seed.Member
		wantType string
	}{
		{name: "individual member", member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: store.KindIndividual,
			Shoots: []seed.Shoot{{Status: store.ShootDeleted}}}, wantType: "not_managed"},
		{name: "no deleted shoot", member: seed.Member{Name: "Grace", Kind: store.KindManaged,
			Shoots: []seed.Shoot{finishedShoot(1)}}, wantType: "no_deleted_shoot"},
		{name: "another shoot open", member: seed.Member{Name: "Grace", Kind: store.KindManaged,
			Shoots: []seed.Shoot{{Status: store.ShootDeleted}, {Status: store.ShootOnboarding}}}, wantType: "active_shoot_exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := tc.member
			f.seedOrg(&m)
			shootsBefore := f.count(`SELECT count(*) FROM shoots`)
			err := f.exec(nil, f.acts.CreateRestart, f.restartInput(m.ID))
			ae := applicationError(t, err)
			assert.Equal(t, tc.wantType, ae.Type())
			assert.True(t, ae.NonRetryable())
			assert.Equal(t, shootsBefore, f.count(`SELECT count(*) FROM shoots`))
			assert.Equal(t, 0, f.count(`SELECT count(*) FROM restarts`))
			assert.Equal(t, 0, f.count(`SELECT count(*) FROM audit_events`))
		})
	}
}

// As for ReserveRetry: a second attempt that started before the first committed must
// answer the first one's restart, not refuse it.
func TestCreateRestartConcurrentDuplicateAttempts(t *testing.T) {
	f := newFixture(t)
	m := managed(nil)
	f.seedOrg(&m)
	in := f.restartInput(m.ID)

	blocker, err := f.db.BeginTx(f.ctx, nil)
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback() }()
	_, err = blocker.NewRaw(`SELECT 1 FROM members WHERE id = ? FOR UPDATE`, m.ID).Exec(f.ctx)
	require.NoError(t, err)

	envs := [2]*testsuite.TestActivityEnvironment{f.newEnv(), f.newEnv()}
	results := make([]activities.CreateRestartResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = execIn(envs[i], &results[i], f.acts.CreateRestart, in)
		}()
	}
	waitForLockWaiters(t, f, 2)
	require.NoError(t, blocker.Commit())
	wg.Wait()

	assert.Equal(t, 1, f.count(`SELECT count(*) FROM restarts WHERE member_id = ?`, m.ID))
	assert.Equal(t, 2, f.count(`SELECT count(*) FROM shoots WHERE member_id = ?`, m.ID))
	for i := range errs {
		if assert.NoErrorf(t, errs[i], "attempt %d", i) {
			assert.Equal(t, m.Shoots[0].ID, results[i].OldShootID)
		}
	}
}
