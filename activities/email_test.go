package activities_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/assert"
)

const adaEmail = "ada.lovelace@example.test"

func ada(shoots ...seed.Shoot) seed.Member {
	return seed.Member{Name: "Ada Lovelace", Email: ptr(adaEmail), Kind: domain.KindIndividual, Shoots: shoots}
}

func TestSendRetryEmailOncePerSeq(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(f *fixture, memberID, shootID, retryID string)
	}{
		{name: "started by the member", start: func(f *fixture, memberID, shootID, _ string) {
			_, err := store.StartShoot(f.ctx, f.db, memberID, shootID, "req-start", time.Now())
			if err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "started stage from the workflow", start: func(f *fixture, _, _, retryID string) {
			f.must(nil, f.acts.SetRetryStage, retryID, domain.StatusStarted)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := ada(finishedShoot(2))
			f.seedOrg(&m)
			shootID := m.Shoots[0].ID
			retryID := f.pendingRetry(m.ID, shootID)

			initial := activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: domain.EmailKindInitial}
			var first, second activities.SendEmailResult
			f.must(&first, f.acts.SendRetryEmail, initial)
			f.must(&second, f.acts.SendRetryEmail, initial)
			if len(first.MessageID) == 0 {
				t.Fatalf("first.MessageID = %#v, want not empty", first.MessageID)
			}
			if first.Skipped {
				t.Errorf("first.Skipped = true, want false")
			}
			assert.Equal(t, "the second run answers the first run's message id", second, first)

			msgs := f.mailbox.Messages()
			if len(msgs) != 1 {
				t.Fatalf("one message for one seq: len %d, want %d", len(msgs), 1)
			}
			assert.Equal(t, "msgs[0].ID", msgs[0].ID, first.MessageID)
			assert.Equal(t, "msgs[0].To", msgs[0].To, []string{adaEmail})
			assertActionLink(t, f, msgs[0].Text, m.ID, shootID)

			r := f.retry(retryID)
			assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailSent)
			if r.EmailMessageID == nil {
				t.Fatalf("r.EmailMessageID = %#v, want not nil", r.EmailMessageID)
			}
			assert.Equal(t, "*r.EmailMessageID", *r.EmailMessageID, first.MessageID)
			assert.Equal(t, "r.RemindersSent", r.RemindersSent, 0)
			es := f.emails(retryID)
			if len(es) != 1 {
				t.Fatalf("es: len %d, want %d", len(es), 1)
			}
			assert.Equal(t, "es[0].Status", es[0].Status, "sent")
			if es[0].MessageID == nil {
				t.Fatalf("es[0].MessageID = %#v, want not nil", es[0].MessageID)
			}
			assert.Equal(t, "*es[0].MessageID", *es[0].MessageID, first.MessageID)

			// A reminder is another seq: a second message, counted once however often it runs.
			reminder := activities.SendEmailInput{SubjectID: retryID, Seq: 1, Kind: domain.EmailKindReminder, Reminder: 1}
			var rem, remAgain activities.SendEmailResult
			f.must(&rem, f.acts.SendRetryEmail, reminder)
			f.must(&remAgain, f.acts.SendRetryEmail, reminder)
			if len(rem.MessageID) == 0 {
				t.Fatalf("rem.MessageID = %#v, want not empty", rem.MessageID)
			}
			if first.MessageID == rem.MessageID {
				t.Errorf("rem.MessageID = %#v, want another value", rem.MessageID)
			}
			assert.Equal(t, "remAgain", remAgain, rem)
			msgs = f.mailbox.Messages()
			if len(msgs) != 2 {
				t.Fatalf("msgs: len %d, want %d", len(msgs), 2)
			}
			assert.Equal(t, "newest first", msgs[0].ID, rem.MessageID)
			r = f.retry(retryID)
			assert.Equal(t, "r.RemindersSent", r.RemindersSent, 1)
			assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailSent)
			if r.EmailMessageID == nil {
				t.Fatalf("r.EmailMessageID = %#v, want not nil", r.EmailMessageID)
			}
			assert.Equal(t, "*r.EmailMessageID", *r.EmailMessageID, rem.MessageID)

			// Once the retry is started, the next reminder is skipped and tells the workflow so.
			tc.start(f, m.ID, shootID, retryID)
			assert.MustEqual(t, "f.retry(retryID).Status", f.retry(retryID).Status, domain.StatusStarted)
			var skipped activities.SendEmailResult
			f.must(&skipped, f.acts.SendRetryEmail, activities.SendEmailInput{SubjectID: retryID, Seq: 2, Kind: domain.EmailKindReminder, Reminder: 2})
			if !skipped.Skipped {
				t.Errorf("skipped.Skipped = false, want true")
			}
			if !skipped.AlreadyStarted {
				t.Errorf("skipped.AlreadyStarted = false, want true")
			}
			if len(skipped.MessageID) != 0 {
				t.Errorf("skipped.MessageID = %#v, want empty", skipped.MessageID)
			}
			assert.Equal(t, "no message after start", f.mailbox.Len(), 2)
			assert.Equal(t, "f.retry(retryID).RemindersSent", f.retry(retryID).RemindersSent, 1)
			if len(f.emails(retryID)) != 2 {
				t.Errorf("no intent recorded for a skipped email: len %d, want %d", len(f.emails(retryID)), 2)
			}
		})
	}
}

// assertActionLink checks that the email carries a working link for the member's shoot.
func assertActionLink(t *testing.T, f *fixture, text, memberID, shootID string) {
	t.Helper()
	prefix := appBaseURL + "/app/shoots/" + shootID + "/start?token="
	i := strings.Index(text, prefix)
	if i < 0 {
		t.Fatalf("no action link for shoot %s in:\n%s", shootID, text)
	}
	raw := text[i+len(prefix):]
	if j := strings.IndexAny(raw, " \n\r\t)>\""); j >= 0 {
		raw = raw[:j]
	}
	token, err := url.QueryUnescape(raw)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := f.links.Verify(token, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	assert.Equal(t, "claims.MemberID", claims.MemberID, memberID)
	assert.Equal(t, "claims.ShootID", claims.ShootID, shootID)
}

func TestSendRetryEmailProviderFailures(t *testing.T) {
	const invalid = `{"message":"The to.0.email must be a valid email address.","errors":{}}`
	for _, tc := range []struct {
		name         string
		status       int
		body         string
		header       http.Header
		nonRetryable bool
		wantType     string
		wantDelay    time.Duration
		wantStatus   string // retries.email_status afterwards
	}{
		{name: "422", status: 422, body: invalid, nonRetryable: true, wantType: activities.ErrTypeMailPermanent, wantStatus: domain.EmailFailed},
		{name: "422 naming the address", status: 422, nonRetryable: true, wantType: activities.ErrTypeMailPermanent, wantStatus: domain.EmailFailed,
			body: `{"message":"The to.0.email ` + adaEmail + ` is on the suppression list <` + adaEmail + `>.","errors":{"to.0.email":["` + adaEmail + `"]}}`},
		{name: "429 with Retry-After", status: 429, body: `{"message":"Too Many Attempts."}`, header: http.Header{"Retry-After": {"7"}},
			wantDelay: 7 * time.Second, wantStatus: domain.EmailQueued},
		{name: "503", status: 503, body: `{"message":"Service Unavailable"}`, wantStatus: domain.EmailQueued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := ada(finishedShoot(1))
			f.seedOrg(&m)
			retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
			stub, stubURL := newStubProvider(t, tc.status, tc.body, tc.header)
			f.useMailer(stubURL)

			in := activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: domain.EmailKindInitial}
			err := f.exec(nil, f.acts.SendRetryEmail, in)
			ae := applicationError(t, err)
			assert.Equal(t, "NonRetryable", ae.NonRetryable(), tc.nonRetryable)
			if tc.wantType != "" {
				assert.Equal(t, "ae.Type()", ae.Type(), tc.wantType)
			}
			assert.Equal(t, "NextRetryDelay", ae.NextRetryDelay(), tc.wantDelay)
			if strings.Contains(err.Error(), adaEmail) {
				t.Errorf("error text must not carry the address contains %q", adaEmail)
			}
			if strings.Contains(err.Error(), "@") {
				t.Errorf("error text must not carry any address contains %q", "@")
			}
			if !strings.Contains(err.Error(), http.StatusText(tc.status)) {
				t.Errorf("err.Error() does not contain %q", http.StatusText(tc.status))
			}
			requests, _ := stub.counts()
			assert.Equal(t, "requests", requests, 1)

			r := f.retry(retryID)
			assert.Equal(t, "r.EmailStatus", r.EmailStatus, tc.wantStatus)
			if r.EmailMessageID != nil {
				t.Errorf("r.EmailMessageID = %#v, want nil", r.EmailMessageID)
			}
			es := f.emails(retryID)
			if len(es) != 1 {
				t.Fatalf("es: len %d, want %d", len(es), 1)
			}
			if tc.nonRetryable {
				assert.Equal(t, "es[0].Status", es[0].Status, "failed")
				if es[0].LastError == nil {
					t.Fatalf("es[0].LastError = %#v, want not nil", es[0].LastError)
				}
				if strings.Contains(*es[0].LastError, "@") {
					t.Errorf("stored error must not carry the address contains %q", "@")
				}
			} else {
				assert.Equal(t, "es[0].Status", es[0].Status, "sending")
			}
			if strings.Contains(f.logs.String(), adaEmail) {
				t.Errorf("logs must not carry the address contains %q", adaEmail)
			}

			if tc.nonRetryable {
				return
			}
			// The provider recovers; Temporal's next attempt sends exactly one message.
			stub.set(http.StatusAccepted, "", nil)
			var res activities.SendEmailResult
			f.must(&res, f.acts.SendRetryEmail, in)
			f.must(&res, f.acts.SendRetryEmail, in)
			_, accepted := stub.counts()
			assert.Equal(t, "accepted", accepted, 1)
			r = f.retry(retryID)
			assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailSent)
			if r.EmailMessageID == nil {
				t.Fatalf("r.EmailMessageID = %#v, want not nil", r.EmailMessageID)
			}
			assert.Equal(t, "*r.EmailMessageID", *r.EmailMessageID, res.MessageID)
		})
	}
}

// A reminder MailerSend refuses does not undo the delivered first email.
func TestFailedReminderKeepsSentStatus(t *testing.T) {
	f := newFixture(t)
	m := ada(finishedShoot(1))
	f.seedOrg(&m)
	retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
	var sent activities.SendEmailResult
	f.must(&sent, f.acts.SendRetryEmail, activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: domain.EmailKindInitial})

	_, stubURL := newStubProvider(t, 422, `{"message":"The to.0.email must be a valid email address.","errors":{}}`, nil)
	f.useMailer(stubURL)
	err := f.exec(nil, f.acts.SendRetryEmail, activities.SendEmailInput{SubjectID: retryID, Seq: 1, Kind: domain.EmailKindReminder, Reminder: 1})
	ae := applicationError(t, err)
	if !ae.NonRetryable() {
		t.Errorf("ae.NonRetryable() = false, want true")
	}
	assert.Equal(t, "ae.Type()", ae.Type(), activities.ErrTypeMailPermanent)

	r := f.retry(retryID)
	assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailSent)
	if r.EmailMessageID == nil {
		t.Fatalf("r.EmailMessageID = %#v, want not nil", r.EmailMessageID)
	}
	assert.Equal(t, "*r.EmailMessageID", *r.EmailMessageID, sent.MessageID)
	assert.Equal(t, "r.RemindersSent", r.RemindersSent, 0)
	es := f.emails(retryID)
	if len(es) != 2 {
		t.Fatalf("es: len %d, want %d", len(es), 2)
	}
	assert.Equal(t, "es[0].Status", es[0].Status, "sent")
	assert.Equal(t, "es[1].Status", es[1].Status, "failed")
}

func TestMarkRetryEmailFailed(t *testing.T) {
	f := newFixture(t)
	m := ada(finishedShoot(1))
	f.seedOrg(&m)
	retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
	in := activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: domain.EmailKindInitial}

	f.must(nil, f.acts.MarkRetryEmailFailed, in)
	f.must(nil, f.acts.MarkRetryEmailFailed, in)
	assert.Equal(t, "f.retry(retryID).EmailStatus", f.retry(retryID).EmailStatus, domain.EmailFailed)
	es := f.emails(retryID)
	if len(es) != 1 {
		t.Fatalf("es: len %d, want %d", len(es), 1)
	}
	assert.Equal(t, "es[0].Status", es[0].Status, "failed")
	assert.Equal(t, "f.mailbox.Len()", f.mailbox.Len(), 0)
}

// Two attempts of one reminder may both pass BeginEmail before either records the send:
// an attempt the server timed out still recording while the next one records the id it
// left in its heartbeat. The email is recorded once and the reminder counted once.
func TestEmailRecordedByTwoAttemptsCountsOnce(t *testing.T) {
	f := newFixture(t)
	m := ada(finishedShoot(1))
	f.seedOrg(&m)
	retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
	var attempts [2]*store.Email
	for i := range attempts {
		e, err := store.BeginEmail(f.ctx, f.db, retryID, 1, domain.EmailKindReminder)
		if err != nil {
			t.Fatal(err)
		}
		attempts[i] = e
	}
	for _, e := range attempts {
		if err := store.FinishEmail(f.ctx, f.db, store.SubjectRetry, e, "msg-once", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	r := f.retry(retryID)
	assert.Equal(t, "r.RemindersSent", r.RemindersSent, 1)
	assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailSent)
	es := f.emails(retryID)
	if len(es) != 1 || es[0].Status != "sent" || es[0].MessageID == nil || *es[0].MessageID != "msg-once" {
		t.Errorf("emails = %+v, want one sent with msg-once", es)
	}
}
