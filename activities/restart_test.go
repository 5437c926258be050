package activities_test

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/assert"
)

func TestCreateRestartTwiceCreatesOnce(t *testing.T) {
	f := newFixture(t)
	m := managed(nil)
	f.seedOrg(&m)
	oldShootID := m.Shoots[0].ID
	in := f.restartInput(m.ID)

	var first, second activities.CreateRestartResult
	f.must(&first, f.acts.CreateRestart, in)
	f.must(&second, f.acts.CreateRestart, in)
	assert.Equal(t, "first", first, activities.CreateRestartResult{OldShootID: oldShootID, HasEmail: false})
	assert.Equal(t, "second", second, first)

	assert.Equal(t, "the deleted shoot and one new one", f.count(`SELECT count(*) FROM shoots WHERE member_id = ?`, m.ID), 2)
	s := f.shoot(in.NewShootID)
	assert.Equal(t, "s.Status", s.Status, domain.ShootOnboarding)
	assert.Equal(t, "s.MemberID", s.MemberID, m.ID)
	assert.Equal(t, "the old shoot stays deleted", f.shoot(oldShootID).Status, domain.ShootDeleted)
	assert.Equal(t, "f.count(`SELECT count(*) FROM restarts WHERE member_id = ?`, m.ID)", f.count(`SELECT count(*) FROM restarts WHERE member_id = ?`, m.ID), 1)
	r := f.restart(in.RestartID)
	assert.Equal(t, "r.Status", r.Status, domain.StatusPending)
	assert.Equal(t, "r.OldShootID", r.OldShootID, oldShootID)
	assert.Equal(t, "r.NewShootID", r.NewShootID, in.NewShootID)
	assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailNotApplicable)
	assert.Equal(t, "f.count(`SELECT count(*) FROM audit_events WHERE action = 'shoot.restart' AND target_id = ?`, in.RestartID)", f.count(`SELECT count(*) FROM audit_events WHERE action = 'shoot.restart' AND target_id = ?`, in.RestartID), 1)

	// No address: nothing to send, and nothing recorded as sent.
	var res activities.SendEmailResult
	f.must(&res, f.acts.SendRestartEmail, activities.SendEmailInput{SubjectID: in.RestartID, Seq: 0, Kind: domain.EmailKindInitial})
	if !res.Skipped {
		t.Errorf("res.Skipped = false, want true")
	}
	if res.AlreadyStarted {
		t.Errorf("res.AlreadyStarted = true, want false")
	}
	if len(res.MessageID) != 0 {
		t.Errorf("res.MessageID = %#v, want empty", res.MessageID)
	}
	assert.Equal(t, "f.mailbox.Len()", f.mailbox.Len(), 0)
	if len(f.emails(in.RestartID)) != 0 {
		t.Errorf("f.emails(in.RestartID) = %#v, want empty", f.emails(in.RestartID))
	}
	assert.Equal(t, "f.restart(in.RestartID).EmailStatus", f.restart(in.RestartID).EmailStatus, domain.EmailNotApplicable)

	// Canceled before the member touched it: the new shoot goes back to deleted.
	f.must(nil, f.acts.SetRestartStage, in.RestartID, domain.StatusFailed)
	f.must(nil, f.acts.SetRestartStage, in.RestartID, domain.StatusFailed)
	s = f.shoot(in.NewShootID)
	assert.Equal(t, "s.Status", s.Status, domain.ShootDeleted)
	if s.DeletedAt == nil {
		t.Errorf("s.DeletedAt = %#v, want not nil", s.DeletedAt)
	}
	r = f.restart(in.RestartID)
	assert.Equal(t, "r.Status", r.Status, domain.StatusFailed)
	assert.Equal(t, "r.Stage", r.Stage, domain.StatusFailed)

	// The member can be restarted again.
	again := f.restartInput(m.ID)
	var third activities.CreateRestartResult
	f.must(&third, f.acts.CreateRestart, again)
	assert.Equal(t, "the most recent deleted shoot is the one restarted", third.OldShootID, in.NewShootID)
}

func TestRestartEmailSentOnce(t *testing.T) {
	f := newFixture(t)
	m := managed(ptr("grace@example.test"))
	f.seedOrg(&m)
	in := f.restartInput(m.ID)
	var created activities.CreateRestartResult
	f.must(&created, f.acts.CreateRestart, in)
	if !created.HasEmail {
		t.Errorf("created.HasEmail = false, want true")
	}

	email := activities.SendEmailInput{SubjectID: in.RestartID, Seq: 0, Kind: domain.EmailKindInitial}
	var first, second activities.SendEmailResult
	f.must(&first, f.acts.SendRestartEmail, email)
	f.must(&second, f.acts.SendRestartEmail, email)
	if len(first.MessageID) == 0 {
		t.Fatalf("first.MessageID = %#v, want not empty", first.MessageID)
	}
	assert.Equal(t, "second", second, first)
	msgs := f.mailbox.Messages()
	if len(msgs) != 1 {
		t.Fatalf("msgs: len %d, want %d", len(msgs), 1)
	}
	assert.Equal(t, "msgs[0].To", msgs[0].To, []string{"grace@example.test"})
	assertActionLink(t, f, msgs[0].Text, m.ID, in.NewShootID)
	r := f.restart(in.RestartID)
	assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailSent)
	if r.EmailMessageID == nil {
		t.Fatalf("r.EmailMessageID = %#v, want not nil", r.EmailMessageID)
	}
	assert.Equal(t, "*r.EmailMessageID", *r.EmailMessageID, first.MessageID)

	// Once started, the restart is not failed and its shoot is not deleted by a late stage.
	_, err := store.StartShoot(f.ctx, f.db, m.ID, in.NewShootID, "req-start", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var skipped activities.SendEmailResult
	f.must(&skipped, f.acts.SendRestartEmail, activities.SendEmailInput{SubjectID: in.RestartID, Seq: 1, Kind: domain.EmailKindReminder, Reminder: 1})
	if !skipped.Skipped {
		t.Errorf("skipped.Skipped = false, want true")
	}
	if !skipped.AlreadyStarted {
		t.Errorf("skipped.AlreadyStarted = false, want true")
	}
	assert.Equal(t, "f.mailbox.Len()", f.mailbox.Len(), 1)
	f.must(nil, f.acts.SetRestartStage, in.RestartID, domain.StatusFailed)
	assert.Equal(t, "f.restart(in.RestartID).Status", f.restart(in.RestartID).Status, domain.StatusStarted)
	assert.Equal(t, "f.shoot(in.NewShootID).Status", f.shoot(in.NewShootID).Status, domain.ShootOnboarding)
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
	if err != nil {
		t.Fatal(err)
	}

	f.must(nil, f.acts.SetRestartStage, in.RestartID, domain.StatusFailed)
	assert.Equal(t, "f.restart(in.RestartID).Status", f.restart(in.RestartID).Status, domain.StatusFailed)
	s := f.shoot(in.NewShootID)
	assert.Equal(t, "s.Status", s.Status, domain.ShootWaiting)
	if s.DeletedAt != nil {
		t.Errorf("s.DeletedAt = %#v, want nil", s.DeletedAt)
	}
}

func TestCreateRestartRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		member   seed.Member
		wantType string
	}{
		{name: "individual member", member: seed.Member{Name: "Ada", Email: ptr("ada@example.test"), Kind: domain.KindIndividual,
			Shoots: []seed.Shoot{{Status: domain.ShootDeleted}}}, wantType: "not_managed"},
		{name: "no deleted shoot", member: seed.Member{Name: "Grace", Kind: domain.KindManaged,
			Shoots: []seed.Shoot{finishedShoot(1)}}, wantType: "no_deleted_shoot"},
		{name: "another shoot open", member: seed.Member{Name: "Grace", Kind: domain.KindManaged,
			Shoots: []seed.Shoot{{Status: domain.ShootDeleted}, {Status: domain.ShootOnboarding}}}, wantType: "active_shoot_exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := tc.member
			f.seedOrg(&m)
			shootsBefore := f.count(`SELECT count(*) FROM shoots`)
			err := f.exec(nil, f.acts.CreateRestart, f.restartInput(m.ID))
			ae := applicationError(t, err)
			assert.Equal(t, "ae.Type()", ae.Type(), tc.wantType)
			if !ae.NonRetryable() {
				t.Errorf("ae.NonRetryable() = false, want true")
			}
			assert.Equal(t, "f.count(`SELECT count(*) FROM shoots`)", f.count(`SELECT count(*) FROM shoots`), shootsBefore)
			assert.Equal(t, "f.count(`SELECT count(*) FROM restarts`)", f.count(`SELECT count(*) FROM restarts`), 0)
			assert.Equal(t, "f.count(`SELECT count(*) FROM audit_events`)", f.count(`SELECT count(*) FROM audit_events`), 0)
		})
	}
}
