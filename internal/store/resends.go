package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
)

// ResendLimits bound an organization's resends: not within Cooldown of the retry's last
// email (0: no cooldown), and not while QueueCap of its emails wait to be sent.
type ResendLimits struct {
	Cooldown time.Duration
	QueueCap int
}

// ResendTooSoonError refuses a resend within the cooldown of the retry's last email.
type ResendTooSoonError struct {
	Wait time.Duration // until the cooldown ends
}

func (e *ResendTooSoonError) Error() string {
	return fmt.Sprintf("an email was sent to this member less than the cooldown ago; try again in %s", e.Wait.Round(time.Second))
}

// EmailQueueFullError refuses a resend while the organization's queued emails are at the cap.
type EmailQueueFullError struct {
	Queued, Cap int
}

func (e *EmailQueueFullError) Error() string {
	return fmt.Sprintf("%d emails of the organization wait to be sent (the most is %d)", e.Queued, e.Cap)
}

// ResendClaim is a resend the limits let through. Release gives it back when the
// workflow refused it, so a resend that sent nothing neither starts a cooldown nor
// counts as queued.
type ResendClaim struct {
	SubjectID string
	At        time.Time  // when it was claimed (the database's clock)
	Prev      *time.Time // the claim before it, restored by Release
}

// ClaimResend decides whether retry retryID of orgID may have its email sent again and,
// if so, records the resend, all in one transaction: the organization's row is locked
// first, so concurrent resends of its retries (on any API process) are decided one after
// the other, each seeing the ones before it. A pending retry is required; its last email
// is the latest of its emails begun and its resends claimed.
func ClaimResend(ctx context.Context, db bun.IDB, orgID, retryID string, lim ResendLimits) (*ResendClaim, error) {
	var claim *ResendClaim
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var locked string
		if err := tx.NewRaw(`SELECT id FROM organizations WHERE id = ? FOR NO KEY UPDATE`, orgID).Scan(ctx, &locked); err != nil {
			return notFound(err, "organization")
		}
		var (
			status    string
			now       time.Time
			lastEmail sql.NullTime
			prev      sql.NullTime
		)
		// clock_timestamp, not now(): a request that waited on the lock must measure from
		// when it got it, after the claim it waited for.
		err := tx.NewRaw(`SELECT r.status, clock_timestamp(),
			(SELECT max(e.created_at) FROM emails e WHERE e.subject_id = r.id),
			(SELECT er.last_requested_at FROM email_resends er WHERE er.subject_id = r.id)
			FROM retries r WHERE r.id = ? AND r.org_id = ?`, retryID, orgID).Scan(ctx, &status, &now, &lastEmail, &prev)
		if err != nil {
			return notFound(err, "retry")
		}
		if status != domain.StatusPending {
			return problem.New(problem.RetryNotPending, "the retry is %s; only a pending retry's email can be sent again", status)
		}
		last := lastEmail.Time
		if prev.Valid && prev.Time.After(last) {
			last = prev.Time
		}
		if lim.Cooldown > 0 && (lastEmail.Valid || prev.Valid) {
			if wait := lim.Cooldown - now.Sub(last); wait > 0 {
				return &ResendTooSoonError{Wait: wait}
			}
		}
		queued, err := queuedEmails(ctx, tx, orgID)
		if err != nil {
			return err
		}
		if queued >= lim.QueueCap {
			return &EmailQueueFullError{Queued: queued, Cap: lim.QueueCap}
		}
		if _, err := tx.NewRaw(`INSERT INTO email_resends (subject_id, org_id, requested, last_requested_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (subject_id) DO UPDATE SET requested = email_resends.requested + 1, last_requested_at = excluded.last_requested_at`,
			retryID, orgID, now).Exec(ctx); err != nil {
			return err
		}
		claim = &ResendClaim{SubjectID: retryID, At: now}
		if prev.Valid {
			claim.Prev = &prev.Time
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claim, nil
}

// Release gives back a claim whose resend the workflow refused. The cooldown goes back to
// the claim before it, unless a later claim has been made since.
func (c *ResendClaim) Release(ctx context.Context, db bun.IDB) error {
	_, err := db.NewRaw(`UPDATE email_resends SET requested = greatest(requested - 1, 0),
		last_requested_at = CASE WHEN last_requested_at = ? THEN ? ELSE last_requested_at END
		WHERE subject_id = ?`, c.At, c.Prev, c.SubjectID).Exec(ctx)
	return err
}

// queuedEmails counts an organization's emails that wait to be sent: the first emails of
// its pending retries (of members with an address) and restarts that are neither sent
// nor refused, and the resends claimed for its pending retries beyond the resend emails
// sent or refused since. Reminders are not counted: their timers spread them out.
func queuedEmails(ctx context.Context, db bun.IDB, orgID string) (int, error) {
	var n int
	// 'pending' and 'queued' stay literal: they are the predicates of the partial indexes
	// retries_org_email_queued and restarts_org_email_queued.
	err := db.NewRaw(`SELECT
		(SELECT count(*) FROM retries r JOIN members m ON m.id = r.member_id
			WHERE r.org_id = ?0 AND r.status = 'pending' AND r.email_status = 'queued' AND m.email IS NOT NULL)
		+ (SELECT count(*) FROM restarts s
			WHERE s.org_id = ?0 AND s.status = 'pending' AND s.email_status = 'queued')
		+ (SELECT coalesce(sum(greatest(er.requested - (SELECT count(*) FROM emails e
				WHERE e.subject_id = er.subject_id AND e.kind = ?1 AND e.status IN (?2, ?3)), 0)), 0)
			FROM email_resends er JOIN retries r ON r.id = er.subject_id
			WHERE er.org_id = ?0 AND r.status = 'pending')`, orgID, domain.EmailKindResend, domain.EmailSent, domain.EmailFailed).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("count queued emails: %w", err)
	}
	return n, nil
}
