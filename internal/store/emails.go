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

// Subject is what an email is about, a retry or a restart, named by its table.
type Subject string

const (
	SubjectRetry   Subject = "retries"
	SubjectRestart Subject = "restarts"
)

// FinishEmail stores the provider's message id and mirrors the status on the retry or
// restart; a sent reminder also counts in reminders_sent. An email already recorded as
// sent is left as it is: two attempts of one send may both get here (one the server
// timed out, still recording, and the next one recording the id it left), and the
// reminder must count once.
func FinishEmail(ctx context.Context, db bun.IDB, subject Subject, e *Email, messageID string, now time.Time) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Email)(nil)).
			Set("status = ?", domain.EmailSent).Set("message_id = ?", messageID).Set("sent_at = ?", now).
			Where("id = ?", e.ID).Where("status <> ?", domain.EmailSent).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		q := tx.NewUpdate().Table(string(subject)).
			Set("email_status = ?", domain.EmailSent).Set("email_message_id = ?", messageID).Set("updated_at = ?", now).
			Where("id = ?", e.SubjectID)
		if e.Kind == domain.EmailKindReminder {
			q = q.Set("reminders_sent = reminders_sent + 1")
		}
		if subject != SubjectRetry {
			_, err = q.Exec(ctx)
			return err
		}
		var r Retry
		if err := q.Returning("id, org_id, member_id, shoot_id").Scan(ctx, &r.ID, &r.OrgID, &r.MemberID, &r.ShootID); err != nil {
			return err
		}
		return RecordEvent(ctx, tx, retryEvent(domain.EventRetryEmailDelivered, &r, now, emailFields(e, map[string]any{"message_id": messageID})))
	})
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
