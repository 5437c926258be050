package activities_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
)

const adaEmail = "ada.lovelace@example.test"

func ada(shoots ...seed.Shoot) seed.Member {
	return seed.Member{Name: "Ada Lovelace", Email: ptr(adaEmail), Kind: store.KindIndividual, Shoots: shoots}
}

func TestSendRetryEmailOncePerSeq(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(f *fixture, memberID, shootID, retryID string)
	}{
		{name: "started by the member", start: func(f *fixture, memberID, shootID, _ string) {
			_, err := store.StartShoot(f.ctx, f.db, memberID, shootID, "req-start", time.Now())
			require.NoError(f.t, err)
		}},
		{name: "started stage from the workflow", start: func(f *fixture, _, _, retryID string) {
			f.must(nil, f.acts.SetRetryStage, retryID, store.StatusStarted)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := ada(finishedShoot(2))
			f.seedOrg(&m)
			shootID := m.Shoots[0].ID
			retryID := f.pendingRetry(m.ID, shootID)

			initial := activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: store.EmailKindInitial}
			var first, second activities.SendEmailResult
			f.must(&first, f.acts.SendRetryEmail, initial)
			f.must(&second, f.acts.SendRetryEmail, initial)
			require.NotEmpty(t, first.MessageID)
			assert.False(t, first.Skipped)
			assert.Equal(t, first, second, "the second run answers the first run's message id")

			msgs := f.mailbox.Messages()
			require.Len(t, msgs, 1, "one message for one seq")
			assert.Equal(t, first.MessageID, msgs[0].ID)
			assert.Equal(t, []string{adaEmail}, msgs[0].To)
			assertActionLink(t, f, msgs[0].Text, m.ID, shootID)

			r := f.retry(retryID)
			assert.Equal(t, store.EmailSent, r.EmailStatus)
			require.NotNil(t, r.EmailMessageID)
			assert.Equal(t, first.MessageID, *r.EmailMessageID)
			assert.Equal(t, 0, r.RemindersSent)
			es := f.emails(retryID)
			require.Len(t, es, 1)
			assert.Equal(t, "sent", es[0].Status)
			require.NotNil(t, es[0].MessageID)
			assert.Equal(t, first.MessageID, *es[0].MessageID)

			// A reminder is another seq: a second message, counted once however often it runs.
			reminder := activities.SendEmailInput{SubjectID: retryID, Seq: 1, Kind: store.EmailKindReminder, Reminder: 1}
			var rem, remAgain activities.SendEmailResult
			f.must(&rem, f.acts.SendRetryEmail, reminder)
			f.must(&remAgain, f.acts.SendRetryEmail, reminder)
			require.NotEmpty(t, rem.MessageID)
			assert.NotEqual(t, first.MessageID, rem.MessageID)
			assert.Equal(t, rem, remAgain)
			msgs = f.mailbox.Messages()
			require.Len(t, msgs, 2)
			assert.Equal(t, rem.MessageID, msgs[0].ID, "newest first")
			r = f.retry(retryID)
			assert.Equal(t, 1, r.RemindersSent)
			assert.Equal(t, store.EmailSent, r.EmailStatus)
			require.NotNil(t, r.EmailMessageID)
			assert.Equal(t, rem.MessageID, *r.EmailMessageID)

			// Once the retry is started, the next reminder is skipped and tells the workflow so.
			tc.start(f, m.ID, shootID, retryID)
			require.Equal(t, store.StatusStarted, f.retry(retryID).Status)
			var skipped activities.SendEmailResult
			f.must(&skipped, f.acts.SendRetryEmail, activities.SendEmailInput{SubjectID: retryID, Seq: 2, Kind: store.EmailKindReminder, Reminder: 2})
			assert.True(t, skipped.Skipped)
			assert.True(t, skipped.AlreadyStarted)
			assert.Empty(t, skipped.MessageID)
			assert.Equal(t, 2, f.mailbox.Len(), "no message after start")
			assert.Equal(t, 1, f.retry(retryID).RemindersSent)
			assert.Len(t, f.emails(retryID), 2, "no intent recorded for a skipped email")
		})
	}
}

// assertActionLink checks that the email carries a working link for the member's shoot.
func assertActionLink(t *testing.T, f *fixture, text, memberID, shootID string) {
	t.Helper()
	prefix := appBaseURL + "/app/shoots/" + shootID + "/start?token="
	i := strings.Index(text, prefix)
	require.GreaterOrEqualf(t, i, 0, "no action link for shoot %s in:\n%s", shootID, text)
	raw := text[i+len(prefix):]
	if j := strings.IndexAny(raw, " \n\r\t)>\""); j >= 0 {
		raw = raw[:j]
	}
	token, err := url.QueryUnescape(raw)
	require.NoError(t, err)
	claims, err := f.links.Verify(token, time.Now())
	require.NoError(t, err)
	assert.Equal(t, memberID, claims.MemberID)
	assert.Equal(t, shootID, claims.ShootID)
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
		{name: "422", status: 422, body: invalid, nonRetryable: true, wantType: activities.ErrTypeMailPermanent, wantStatus: store.EmailFailed},
		{name: "422 naming the address", status: 422, nonRetryable: true, wantType: activities.ErrTypeMailPermanent, wantStatus: store.EmailFailed,
			body: `{"message":"The to.0.email ` + adaEmail + ` is on the suppression list <` + adaEmail + `>.","errors":{"to.0.email":["` + adaEmail + `"]}}`},
		{name: "429 with Retry-After", status: 429, body: `{"message":"Too Many Attempts."}`, header: http.Header{"Retry-After": {"7"}},
			wantDelay: 7 * time.Second, wantStatus: store.EmailQueued},
		{name: "503", status: 503, body: `{"message":"Service Unavailable"}`, wantStatus: store.EmailQueued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			m := ada(finishedShoot(1))
			f.seedOrg(&m)
			retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
			stub, stubURL := newStubProvider(t, tc.status, tc.body, tc.header)
			f.useMailer(stubURL)

			in := activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: store.EmailKindInitial}
			err := f.exec(nil, f.acts.SendRetryEmail, in)
			ae := applicationError(t, err)
			assert.Equal(t, tc.nonRetryable, ae.NonRetryable(), "NonRetryable")
			if tc.wantType != "" {
				assert.Equal(t, tc.wantType, ae.Type())
			}
			assert.Equal(t, tc.wantDelay, ae.NextRetryDelay(), "NextRetryDelay")
			assert.NotContains(t, err.Error(), adaEmail, "error text must not carry the address")
			assert.NotContains(t, err.Error(), "@", "error text must not carry any address")
			assert.Contains(t, err.Error(), http.StatusText(tc.status))
			requests, _ := stub.counts()
			assert.Equal(t, 1, requests)

			r := f.retry(retryID)
			assert.Equal(t, tc.wantStatus, r.EmailStatus)
			assert.Nil(t, r.EmailMessageID)
			es := f.emails(retryID)
			require.Len(t, es, 1)
			if tc.nonRetryable {
				assert.Equal(t, "failed", es[0].Status)
				require.NotNil(t, es[0].LastError)
				assert.NotContains(t, *es[0].LastError, "@", "stored error must not carry the address")
			} else {
				assert.Equal(t, "sending", es[0].Status)
			}
			assert.NotContains(t, f.logs.String(), adaEmail, "logs must not carry the address")

			if tc.nonRetryable {
				return
			}
			// The provider recovers; Temporal's next attempt sends exactly one message.
			stub.set(http.StatusAccepted, "", nil)
			var res activities.SendEmailResult
			f.must(&res, f.acts.SendRetryEmail, in)
			f.must(&res, f.acts.SendRetryEmail, in)
			_, accepted := stub.counts()
			assert.Equal(t, 1, accepted)
			r = f.retry(retryID)
			assert.Equal(t, store.EmailSent, r.EmailStatus)
			require.NotNil(t, r.EmailMessageID)
			assert.Equal(t, res.MessageID, *r.EmailMessageID)
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
	f.must(&sent, f.acts.SendRetryEmail, activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: store.EmailKindInitial})

	_, stubURL := newStubProvider(t, 422, `{"message":"The to.0.email must be a valid email address.","errors":{}}`, nil)
	f.useMailer(stubURL)
	err := f.exec(nil, f.acts.SendRetryEmail, activities.SendEmailInput{SubjectID: retryID, Seq: 1, Kind: store.EmailKindReminder, Reminder: 1})
	ae := applicationError(t, err)
	assert.True(t, ae.NonRetryable())
	assert.Equal(t, activities.ErrTypeMailPermanent, ae.Type())

	r := f.retry(retryID)
	assert.Equal(t, store.EmailSent, r.EmailStatus)
	require.NotNil(t, r.EmailMessageID)
	assert.Equal(t, sent.MessageID, *r.EmailMessageID)
	assert.Equal(t, 0, r.RemindersSent)
	es := f.emails(retryID)
	require.Len(t, es, 2)
	assert.Equal(t, "sent", es[0].Status)
	assert.Equal(t, "failed", es[1].Status)
}

func TestMarkRetryEmailFailed(t *testing.T) {
	f := newFixture(t)
	m := ada(finishedShoot(1))
	f.seedOrg(&m)
	retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
	in := activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: store.EmailKindInitial}

	f.must(nil, f.acts.MarkRetryEmailFailed, in)
	f.must(nil, f.acts.MarkRetryEmailFailed, in)
	assert.Equal(t, store.EmailFailed, f.retry(retryID).EmailStatus)
	es := f.emails(retryID)
	require.Len(t, es, 1)
	assert.Equal(t, "failed", es[0].Status)
	assert.Equal(t, 0, f.mailbox.Len())
}
