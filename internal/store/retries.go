package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/rules"
)

// Actor is who asked for a change, for the records and the audit log.
type Actor struct {
	Kind       string // ActorAdmin, ActorAutomation, ...
	ID         string // admin id or API key id
	RequestID  string
	Credential Credential
}

// ReserveRetryParams are the ids a retry is reserved for.
type ReserveRetryParams struct {
	RetryID    string
	OrgID      string
	MemberID   string
	ShootID    string
	Reason     string
	WorkflowID string
	Actor      Actor
	Now        time.Time
	Window     time.Duration
}

// ReserveRetry checks the give-retry rules under row locks on the member and the shoot and,
// in the same transaction, consumes the allowance, records the retry (stage resetting) and
// writes the audit event. Running it again for the same retry id returns the recorded
// retry, so an activity retried after its commit does not consume twice.
func ReserveRetry(ctx context.Context, db bun.IDB, p ReserveRetryParams) (*Retry, error) {
	var out *Retry
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = reserveRetry(ctx, tx, p, domain.StageResetting)
		return err
	})
	return out, err
}

// GiveRetry does what ReserveRetry, DeleteRetryResults and ResetRetryShoot do, in one
// transaction: the retry is either not given at all or given with its shoot reset, and
// no run can stop between the steps. A retry recorded earlier is returned as it is,
// with its reset completed if a run of the three-step workflow stopped before it.
func GiveRetry(ctx context.Context, db bun.IDB, p ReserveRetryParams) (*Retry, error) {
	var out *Retry
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// A new retry is recorded pending, its shoot reset with the same round trip.
		r, err := reserveRetry(ctx, tx, p, domain.StagePending, resetShootQuery(tx, p.ShootID, p.Now, withResults))
		if err != nil {
			return err
		}
		out = r
		if r.Recorded && r.Stage == domain.StageResetting {
			return resetToPending(ctx, tx, r, p.Now, withResults)
		}
		return nil
	})
	return out, err
}

// reserveRetry is ReserveRetry's transaction; a new retry is recorded at stage, and the
// statements of also commit with it.
//
// Round trips: the member's lock, the look for the retry's id, the shoot's lock with the
// rules' facts, then every write at once (writes). Each lock is taken by a statement of
// its own, after the one before it returned, so each read sees what the holders of the
// locks before it committed.
func reserveRetry(ctx context.Context, tx bun.Tx, p ReserveRetryParams, stage string, also ...schema.QueryAppender) (*Retry, error) {
	member := new(Member)
	if err := tx.NewSelect().Model(member).
		Where("id = ? AND org_id = ?", p.MemberID, p.OrgID).For("UPDATE").Scan(ctx); err != nil {
		return nil, notFound(err, "member")
	}
	// Looked up under the member's lock: a concurrent attempt of this activity that
	// committed first is then seen here, not mistaken for another pending retry. The
	// row is locked too, so GiveRetry's look at its stage cannot race a late
	// ResetRetryShoot of a three-step run.
	existing := new(Retry)
	err := tx.NewSelect().Model(existing).Where("id = ?", p.RetryID).For("UPDATE").Scan(ctx)
	if err == nil && (existing.ShootID != p.ShootID || existing.MemberID != p.MemberID) {
		// The id derives from an Idempotency-Key that another request used first.
		return nil, problem.New(problem.IdempotencyKeyReused, "this retry id belongs to another shoot")
	}
	if err == nil && existing.Status == domain.StatusFailed {
		return nil, problem.New(problem.Canceled, "this retry was canceled; it is not resumed")
	}
	if err == nil {
		existing.Recorded = true
		return existing, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	facts, err := lockShootFacts(ctx, tx, member, p.ShootID)
	if err != nil {
		return nil, err
	}
	allowance, err := rules.CheckRetry(facts, p.Now, p.Window)
	if err != nil {
		return nil, err
	}
	w := newWrites(tx)
	upd := tx.NewUpdate().Model((*Member)(nil)).Where("id = ?", member.ID)
	if allowance == rules.AllowanceRetryCredit {
		upd = upd.Set("retry_credits = retry_credits - 1")
	} else {
		upd = upd.Set("free_retry_available = false")
	}
	w.add(upd)
	// A managed member may have no address: no email will go out, and the admin who
	// gives the retry is shown the link instead (as for a restart).
	emailStatus := domain.EmailQueued
	if member.Email == nil || *member.Email == "" {
		emailStatus = domain.EmailNotApplicable
	}
	r := &Retry{
		ID: p.RetryID, OrgID: p.OrgID, MemberID: p.MemberID, ShootID: p.ShootID,
		IssuedByKind: p.Actor.Kind, IssuedBy: p.Actor.ID, IssuedAt: p.Now,
		AllowanceUsed: string(allowance), Reason: nullable(p.Reason),
		Status: domain.StatusPending, Stage: stage, EmailStatus: emailStatus,
		WorkflowID: p.WorkflowID, UpdatedAt: p.Now,
	}
	w.add(tx.NewInsert().Model(r))
	w.add(auditInsert(tx, p.Actor.Event(AuditEvent{
		OrgID: p.OrgID, Action: AuditRetryGive, TargetKind: "retry", TargetID: r.ID, Outcome: "reserved", MemberID: p.MemberID,
		Detail: map[string]any{"member_id": p.MemberID, "shoot_id": p.ShootID, "allowance_used": string(allowance)},
	})))
	issued := map[string]any{"allowance_used": r.AllowanceUsed, "issued_by_kind": r.IssuedByKind, "email_status": r.EmailStatus}
	if r.Reason != nil {
		issued["reason"] = *r.Reason
	}
	ev, err := eventQuery(tx, retryEvent(domain.EventRetryIssued, r, p.Now, issued))
	if err != nil {
		return nil, err
	}
	w.add(ev)
	for _, q := range also {
		w.add(q)
	}
	if err := w.exec(ctx, tx); err != nil {
		switch {
		case IsUniqueViolation(err, "retries_one_pending_per_member"):
			return nil, problem.New(problem.RetryPending, "the member already has a pending retry")
		case IsUniqueViolation(err, "retries_one_per_shoot"):
			return nil, problem.New(problem.ShootAlreadyRetried, "each shoot can be retried once")
		}
		return nil, err
	}
	return r, nil
}

// lockShootFacts locks the member's shoot and reads, in the same statement, what
// rules.CheckRetry needs beyond the member's and the shoot's rows. The caller holds the
// member's lock, which every give to the member takes first, so no retry can be given
// to the member between this statement's snapshot and its lock.
func lockShootFacts(ctx context.Context, tx bun.Tx, m *Member, shootID string) (rules.RetryFacts, error) {
	var row struct {
		ShootWithCount `bun:",extend"`
		Pending        bool `bun:"member_pending,scanonly"`
		Retried        bool `bun:"shoot_retried,scanonly"`
	}
	// 'pending' stays literal, to match the partial index of pending retries.
	err := tx.NewRaw(`SELECT s.*,
		EXISTS (SELECT 1 FROM retries WHERE member_id = ?1 AND status = 'pending') AS member_pending,
		EXISTS (SELECT 1 FROM retries WHERE shoot_id = s.id) AS shoot_retried
		FROM shoots s WHERE s.id = ?0 AND s.member_id = ?1 FOR UPDATE OF s`, shootID, m.ID).Scan(ctx, &row)
	if err != nil {
		return rules.RetryFacts{}, notFound(err, "shoot")
	}
	return rules.RetryFacts{
		MemberHasPendingRetry: row.Pending,
		ShootStatus:           row.Status,
		ShootCompletedAt:      row.CompletedAt,
		ShootRetried:          row.Retried || row.RetryCount > 0,
		RetryCredits:          m.RetryCredits,
		FreeRetryAvailable:    m.FreeRetryAvailable,
	}, nil
}

// CheckRetry evaluates the give-retry rules without locking or changing anything: the
// API's preview and its pre-check, so an ineligible request starts no workflow.
//
// One statement reads what the rules need, where the locked transaction of GiveRetry
// takes four: the pre-check is on every give's path, before the workflow starts.
func CheckRetry(ctx context.Context, db bun.IDB, orgID, memberID, shootID string, now time.Time, window time.Duration) (rules.Allowance, error) {
	var row struct {
		RetryCredits       int        `bun:"retry_credits"`
		FreeRetryAvailable bool       `bun:"free_retry_available"`
		ShootStatus        *string    `bun:"shoot_status"`
		CompletedAt        *time.Time `bun:"completed_at"`
		RetryCount         int        `bun:"retry_count"`
		Pending            bool       `bun:"pending"`
		Retried            bool       `bun:"retried"`
	}
	// 'pending' stays literal, to match the partial index of pending retries.
	err := db.NewRaw(`SELECT m.retry_credits, m.free_retry_available,
		s.status AS shoot_status, s.completed_at, coalesce(s.retry_count, 0) AS retry_count,
		EXISTS (SELECT 1 FROM retries WHERE member_id = m.id AND status = 'pending') AS pending,
		EXISTS (SELECT 1 FROM retries WHERE shoot_id = s.id) AS retried
		FROM members m LEFT JOIN shoots s ON s.id = ?2 AND s.member_id = m.id
		WHERE m.id = ?1 AND m.org_id = ?0`, orgID, memberID, shootID).Scan(ctx, &row)
	if err != nil {
		return "", notFound(err, "member")
	}
	if row.ShootStatus == nil {
		return "", notFound(sql.ErrNoRows, "shoot")
	}
	return rules.CheckRetry(rules.RetryFacts{
		MemberHasPendingRetry: row.Pending,
		ShootStatus:           *row.ShootStatus,
		ShootCompletedAt:      row.CompletedAt,
		ShootRetried:          row.Retried || row.RetryCount > 0,
		RetryCredits:          row.RetryCredits,
		FreeRetryAvailable:    row.FreeRetryAvailable,
	}, now, window)
}

// DeleteRetryResults deletes the results of the retry's shoot while the retry is still
// resetting; afterwards it deletes nothing, so a late re-run cannot touch new results.
func DeleteRetryResults(ctx context.Context, db bun.IDB, retryID string) (int64, error) {
	res, err := db.NewRaw(`DELETE FROM results WHERE shoot_id = (
		SELECT shoot_id FROM retries WHERE id = ? AND stage = ?)`, retryID, domain.StageResetting).Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ResetRetryShoot resets the retry's shoot to onboarding (retry_count + 1, completed_at
// cleared, next submission free) and moves the retry to pending, once.
func ResetRetryShoot(ctx context.Context, db bun.IDB, retryID string, now time.Time) (*Retry, error) {
	var out *Retry
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		r := new(Retry)
		if err := tx.NewSelect().Model(r).Where("id = ?", retryID).For("UPDATE").Scan(ctx); err != nil {
			return notFound(err, "retry")
		}
		out = r
		if r.Stage != domain.StageResetting {
			return nil
		}
		return resetToPending(ctx, tx, r, now, keepResults)
	})
	return out, err
}

// resetToPending resets the shoot of a retry recorded at stage resetting and moves the
// retry to pending.
func resetToPending(ctx context.Context, tx bun.Tx, r *Retry, now time.Time, results resultsOnReset) error {
	if err := resetShoot(ctx, tx, r.ShootID, now, results); err != nil {
		return err
	}
	r.Stage, r.UpdatedAt = domain.StagePending, now
	_, err := tx.NewUpdate().Model(r).Column("stage", "updated_at").WherePK().Exec(ctx)
	return err
}

// resultsOnReset says whether resetShoot deletes the shoot's results too.
type resultsOnReset bool

const (
	// withResults: the one-step give, which deletes the results and resets the shoot
	// in one statement (a round trip fewer on the path the admin waits on).
	withResults resultsOnReset = true
	// keepResults: the three-step give of runs recorded before it, whose results
	// were deleted by a step of their own (DeleteRetryResults).
	keepResults resultsOnReset = false
)

// resetShoot puts a retried shoot back to onboarding: one more retry counted, completion
// cleared, the next submission free.
func resetShoot(ctx context.Context, tx bun.Tx, shootID string, now time.Time, results resultsOnReset) error {
	_, err := resetShootQuery(tx, shootID, now, results).Exec(ctx)
	return err
}

// resetShootQuery is resetShoot's statement.
func resetShootQuery(db bun.IDB, shootID string, now time.Time, results resultsOnReset) *bun.RawQuery {
	with := ""
	if results == withResults {
		// A data-modifying WITH runs once whether or not the statement reads it.
		with = "WITH gone AS (DELETE FROM results WHERE shoot_id = ?0) "
	}
	return db.NewRaw(with+`UPDATE shoots SET status = ?1, retry_count = retry_count + 1,
		completed_at = NULL, next_submission_free = true, started_at = NULL, submitted_at = NULL,
		updated_at = ?2 WHERE id = ?0`, shootID, domain.ShootOnboarding, now)
}

// SetRetryStage records a stage reached by the workflow. Started and failed also set the
// status; the stage never moves back from started.
//
// A retry that turns started or failed here is reported to webhooks (retry.started,
// retry.canceled) in the same transaction; the member's own start is reported by
// StartShoot, after which the stage is started already and nothing is reported twice.
func SetRetryStage(ctx context.Context, db bun.IDB, retryID, stage string, now time.Time) error {
	update := func(ctx context.Context, db bun.IDB) *bun.UpdateQuery {
		return stageUpdate(db.NewUpdate().Model((*Retry)(nil)), retryID, stage, now)
	}
	event := map[string]string{domain.StageStarted: domain.EventRetryStarted, domain.StageFailed: domain.EventRetryCanceled}[stage]
	if event == "" {
		_, err := update(ctx, db).Exec(ctx)
		return err
	}
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var changed []Retry
		if err := update(ctx, tx).Returning("*").Scan(ctx, &changed); err != nil {
			return err
		}
		for i := range changed {
			more := map[string]any{}
			if event == domain.EventRetryStarted {
				more["started_at"] = now.UTC()
			}
			if err := RecordEvent(ctx, tx, retryEvent(event, &changed[i], now, more)); err != nil {
				return err
			}
		}
		return nil
	})
}

// stageUpdate sets the stage of the retry or restart q's model names: the stage never
// moves back from started; started also sets the status and the start time, and failed
// the status, of a pending one only.
func stageUpdate(q *bun.UpdateQuery, id, stage string, now time.Time) *bun.UpdateQuery {
	q = q.Set("stage = ?", stage).Set("updated_at = ?", now).
		Where("id = ?", id).Where("stage <> ?", domain.StageStarted)
	switch stage {
	case domain.StageStarted:
		q = q.Set("status = ?", domain.StatusStarted).Set("started_at = COALESCE(started_at, ?)", now)
	case domain.StageFailed:
		// 'pending' stays literal, like every status = 'pending' matching a partial index.
		q = q.Set("status = ?", domain.StatusFailed).Where("status = 'pending'")
	}
	return q
}

// GetRetry reads one retry with its note.
func GetRetry(ctx context.Context, db bun.IDB, retryID string) (*Retry, error) {
	r := new(Retry)
	err := db.NewSelect().Model(r).ModelTableExpr("retries AS r").
		ColumnExpr("r.*").ColumnExpr("n.note").
		Join("LEFT JOIN retry_notes AS n ON n.retry_id = r.id").
		Where("r.id = ?", retryID).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "retry")
	}
	return r, nil
}

// Contact is the member a retry or restart email goes to, with the shoot the link opens.
// It is read at send time so that no address or name enters a workflow history.
type Contact struct {
	ID          string
	MemberID    string
	ShootID     string
	MemberName  string
	MemberEmail *string
	Status      string
}

// GetContact reads the contact of a retry (its shoot) or a restart (its new shoot).
func GetContact(ctx context.Context, db bun.IDB, subject Subject, id string) (*Contact, error) {
	c := new(Contact)
	err := db.NewRaw(contactSQL(subject), id).
		Scan(ctx, &c.ID, &c.MemberID, &c.ShootID, &c.MemberName, &c.MemberEmail, &c.Status)
	if err != nil {
		return nil, notFound(err, subject.noun())
	}
	return c, nil
}

// contactSQL reads a contact, the subject's id as argument 0. The subject is one of two
// table names of this package, never input.
func contactSQL(subject Subject) string {
	shootColumn := "shoot_id"
	if subject == SubjectRestart {
		shootColumn = "new_shoot_id"
	}
	return `SELECT x.id, x.member_id, x.` + shootColumn + ` AS shoot_id, m.name, m.email, x.status
		FROM ` + string(subject) + ` AS x JOIN members m ON m.id = x.member_id WHERE x.id = ?0`
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return problem.New(problem.NotFound, "%s not found", what)
	}
	return fmt.Errorf("load %s: %w", what, err)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// SaveRetryNote keeps an admin's note for a retry id chosen before the workflow starts.
func SaveRetryNote(ctx context.Context, db bun.IDB, retryID, note string) error {
	_, err := db.NewInsert().Model(&RetryNote{RetryID: retryID, Note: note}).
		On("CONFLICT (retry_id) DO NOTHING").Exec(ctx)
	return err
}

// PendingIDs lists the ids of every pending retry and restart, oldest first, for
// `retryd resume --all`; the partial indexes on pending rows keep it to those rows.
func PendingIDs(ctx context.Context, db bun.IDB) (retries, restarts []string, err error) {
	if err = db.NewRaw(`SELECT id::text FROM retries WHERE status = 'pending' ORDER BY issued_at`).Scan(ctx, &retries); err != nil {
		return nil, nil, err
	}
	err = db.NewRaw(`SELECT id::text FROM restarts WHERE status = 'pending' ORDER BY issued_at`).Scan(ctx, &restarts)
	return retries, restarts, err
}
