package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
)

// BeginEmail records the intent to send email number seq of a retry or restart before
// MailerSend is called. It answers the existing row when one is there: a row already
// "sent" means a previous attempt got through and must not send again.
func BeginEmail(ctx context.Context, db bun.IDB, subjectID string, seq int, kind string) (*Email, error) {
	e := &Email{ID: uuid.NewString(), SubjectID: subjectID, Seq: seq, Kind: kind, Status: domain.EmailSending}
	_, err := db.NewInsert().Model(e).
		On("CONFLICT (subject_id, seq) DO UPDATE").
		Set("attempts = email.attempts + 1").
		Returning("*").Exec(ctx)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// BeginContactEmail is GetContact and BeginEmail in one round trip, the first of every
// email's: it reads the contact and, only when the retry or restart is pending and the
// member has an address, records the intent to send email number seq. e is nil when it
// recorded nothing; the contact says why.
func BeginContactEmail(ctx context.Context, db bun.IDB, subject Subject, subjectID string, seq int, kind string) (c *Contact, e *Email, err error) {
	c = new(Contact)
	var emailID, emailStatus, messageID *string
	// 'pending' stays literal, like every status = 'pending' matching a partial index.
	err = db.NewRaw(`WITH c AS (`+contactSQL(subject)+`), e AS (
			INSERT INTO emails AS em (id, subject_id, seq, kind, status)
			SELECT ?1, c.id, ?2, ?3, ?4 FROM c WHERE c.status = 'pending' AND coalesce(c.email, '') <> ''
			ON CONFLICT (subject_id, seq) DO UPDATE SET attempts = em.attempts + 1
			RETURNING em.id, em.status, em.message_id
		)
		SELECT c.id, c.member_id, c.shoot_id, c.name, c.email, c.status, e.id, e.status, e.message_id
		FROM c LEFT JOIN e ON true`, subjectID, uuid.NewString(), seq, kind, domain.EmailSending).
		Scan(ctx, &c.ID, &c.MemberID, &c.ShootID, &c.MemberName, &c.MemberEmail, &c.Status, &emailID, &emailStatus, &messageID)
	if err != nil {
		return nil, nil, notFound(err, subject.noun())
	}
	if emailID == nil {
		return c, nil, nil
	}
	return c, &Email{ID: *emailID, SubjectID: c.ID, Seq: seq, Kind: kind, Status: *emailStatus, MessageID: messageID}, nil
}

// Subject is what an email is about, a retry or a restart, named by its table.
type Subject string

// noun is the subject's name in an error: retry, restart.
func (s Subject) noun() string { return string(s[:len(s)-1]) }

const (
	SubjectRetry   Subject = "retries"
	SubjectRestart Subject = "restarts"
)

// FinishEmail stores the provider's message id and mirrors the status on the retry or
// restart; a sent reminder also counts in reminders_sent. An email already recorded as
// sent is left as it is: two attempts of one send may both get here (one the server
// timed out, still recording, and the next one recording the id it left), and the
// reminder must count once.
//
// One statement: the email, its retry or restart and, for a retry, the
// retry.email_delivered event commit together in one round trip (an email is on every
// give's path). The event's organization, member and shoot are the retry's, filled in
// from what the retry's update returns.
func FinishEmail(ctx context.Context, db bun.IDB, subject Subject, e *Email, messageID string, now time.Time) error {
	reminders := ""
	if e.Kind == domain.EmailKindReminder {
		reminders = ", reminders_sent = reminders_sent + 1"
	}
	// Arguments 0 to 5 are the event's (outboxArgs); the email's start at 6. The
	// subject is one of two table names of this package, never input.
	update := `WITH em AS (
			UPDATE emails SET status = ?6, message_id = ?7, sent_at = ?8 WHERE id = ?9 AND status <> ?6 RETURNING 1
		), x AS (
			UPDATE ` + string(subject) + ` SET email_status = ?6, email_message_id = ?7, updated_at = ?8` + reminders + `
			WHERE id = ?10 AND EXISTS (SELECT 1 FROM em) RETURNING *
		)`
	var args []any
	if subject == SubjectRetry {
		var err error
		// The ids the retry's row gives are placeholders here, replaced in src below.
		ev := retryEvent(domain.EventRetryEmailDelivered, &Retry{ID: e.SubjectID}, now, emailFields(e, map[string]any{"message_id": messageID}))
		if args, err = ev.outboxArgs(); err != nil {
			return err
		}
		update += `, src AS (
			SELECT x.org_id AS org, jsonb_set(jsonb_set(jsonb_set(?4::jsonb,
				'{organization_id}', to_jsonb(x.org_id)), '{data,member_id}', to_jsonb(x.member_id)),
				'{data,shoot_id}', to_jsonb(x.shoot_id)) AS payload FROM x
		), ` + outboxSQL
	} else {
		args = make([]any, 6)
		update += ` SELECT count(*) FROM x`
	}
	args = append(args, domain.EmailSent, messageID, now, e.ID, e.SubjectID)
	_, err := db.NewRaw(update, args...).Exec(ctx)
	return err
}

// emailFields are the fields of an email event that name the email: its kind and its
// number among the retry's or restart's emails.
func emailFields(e *Email, more map[string]any) map[string]any {
	more["email_kind"], more["email_seq"] = e.Kind, e.Seq
	return more
}

// FailEmail records a permanent failure. The retry's email status turns to failed for
// a first email or a resend, which an admin should act on; a failed reminder leaves a
// delivered status as it is.
//
// Each email that turns failed here is reported to webhooks (retry.email_failed,
// restart.email_failed), reminders too: an integrator may want to know that a nudge
// bounced even while the first email stands delivered.
func FailEmail(ctx context.Context, db bun.IDB, subject Subject, e *Email, reason string, now time.Time) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// The status it had decides whether this is news for the webhooks; the reason is
		// recorded either way (the last one is the one to read).
		var was string
		if err := tx.NewRaw(`UPDATE emails AS e SET status = ?, last_error = ? FROM (SELECT status FROM emails WHERE id = ? FOR UPDATE) AS old
			WHERE e.id = ? AND e.status <> ? RETURNING old.status`, domain.EmailFailed, reason, e.ID, e.ID, domain.EmailSent).Scan(ctx, &was); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.NewUpdate().Table(string(subject)).
			Set("email_status = ?", domain.EmailFailed).Set("updated_at = ?", now).
			Where("id = ?", e.SubjectID).Where("email_status <> ? OR ? <> ?", domain.EmailSent, e.Kind, domain.EmailKindReminder).Exec(ctx); err != nil {
			return err
		}
		if was == "" || was == domain.EmailFailed {
			return nil
		}
		return failedEmailEvent(ctx, tx, subject, e, now)
	})
}

// failedEmailEvent records retry.email_failed or restart.email_failed for e.
func failedEmailEvent(ctx context.Context, tx bun.Tx, subject Subject, e *Email, now time.Time) error {
	more := emailFields(e, map[string]any{})
	if subject == SubjectRestart {
		r := new(Restart)
		if err := tx.NewSelect().Model(r).Where("id = ?", e.SubjectID).Scan(ctx); err != nil {
			return err
		}
		return RecordEvent(ctx, tx, restartEvent(domain.EventRestartEmailFailed, r, now, more))
	}
	r := new(Retry)
	if err := tx.NewSelect().Model(r).Where("id = ?", e.SubjectID).Scan(ctx); err != nil {
		return err
	}
	return RecordEvent(ctx, tx, retryEvent(domain.EventRetryEmailFailed, r, now, more))
}

// EmailProgress is what the emails of one retry or restart have reached, for a run that
// resumes it: numbering goes on after the last email, reminders stay due after the
// first, and a first email cut off mid-send is sent again.
type EmailProgress struct {
	NextSeq      int        // the next free number; 0 when no email was begun
	FirstAt      *time.Time // when the first email was begun
	Reminders    int        // reminders begun
	FirstPending bool       // the first email was begun but neither sent nor refused
}

// GetEmailProgress reads the email progress of a retry or restart.
func GetEmailProgress(ctx context.Context, db bun.IDB, subjectID string) (*EmailProgress, error) {
	p := new(EmailProgress)
	err := db.NewRaw(`SELECT coalesce(max(seq) + 1, 0),
		min(created_at) FILTER (WHERE seq = 0),
		count(*) FILTER (WHERE kind = ?),
		coalesce(bool_or(seq = 0 AND status = ?), false)
		FROM emails WHERE subject_id = ?`, domain.EmailKindReminder, domain.EmailSending, subjectID).Scan(ctx, &p.NextSeq, &p.FirstAt, &p.Reminders, &p.FirstPending)
	if err != nil {
		return nil, err
	}
	return p, nil
}
