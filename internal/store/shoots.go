package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
)

// Started lists what a member's start ended: the workflows to signal.
type Started struct {
	Shoot *Shoot
	// ResultCount is the shoot's results, read with it under its lock (the shoot's own
	// counter): the member's answer shows it without a query of its own.
	ResultCount int
	Retry       *Retry   // the retry that became started, if any
	Restart     *Restart // the restart that became started, if any
	Charged     bool     // a submission took an organization credit
	// Waiting are the workflows to tell of the start: those of the retry or restart this
	// call started or, when it found nothing pending, those of the shoot's retry or
	// restart already started. A repeated start (a client whose connection dropped) then
	// carries the signal again, in case the process that was to send it died first.
	Waiting []string
}

// StartShoot records that the member started their shoot: a pending retry or restart of
// it becomes started. Starting twice is harmless.
func StartShoot(ctx context.Context, db bun.IDB, memberID, shootID, requestID string, now time.Time) (*Started, error) {
	var out *Started
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		locked, err := lockMemberShoot(ctx, tx, memberID, shootID)
		if err != nil {
			return err
		}
		s := &locked.Shoot
		if s.Status != domain.ShootOnboarding {
			return problem.New(problem.InvalidShootStatus, "the shoot is %s; only a shoot in onboarding can be started", s.Status)
		}
		w := newWrites(tx)
		if s.StartedAt == nil {
			s.StartedAt = &now
			w.add(tx.NewUpdate().Model(s).Column("started_at").WherePK())
		}
		out, err = markStarted(ctx, tx, locked, requestID, AuditShootStart, now, w)
		return err
	})
	return out, err
}

// SubmitShoot records the member's photos: onboarding → waiting, one organization credit
// unless the shoot's next submission is free (a retried shoot's). It also counts as
// starting the shoot.
func SubmitShoot(ctx context.Context, db bun.IDB, memberID, shootID, requestID string, now time.Time) (*Started, error) {
	var out *Started
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		locked, err := lockMemberShoot(ctx, tx, memberID, shootID)
		if err != nil {
			return err
		}
		s := &locked.Shoot
		if s.Status != domain.ShootOnboarding {
			return problem.New(problem.InvalidShootStatus, "the shoot is %s; photos can only be submitted in onboarding", s.Status)
		}
		charged := !s.NextSubmissionFree
		if charged {
			res, err := tx.NewUpdate().Model((*Organization)(nil)).
				Set("credit_balance = credit_balance - 1").
				Where("id = ? AND credit_balance > 0", s.OrgID).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return problem.New(problem.InsufficientCredits, "the organization's credit balance is 0")
			}
		}
		s.Status, s.SubmittedAt, s.NextSubmissionFree, s.UpdatedAt = domain.ShootWaiting, &now, false, now
		if s.StartedAt == nil {
			s.StartedAt = &now
		}
		w := newWrites(tx)
		w.add(tx.NewUpdate().Model(s).
			Column("status", "submitted_at", "next_submission_free", "started_at", "updated_at").WherePK())
		out, err = markStarted(ctx, tx, locked, requestID, AuditShootSubmit, now, w)
		if out != nil {
			out.Charged = charged
		}
		return err
	})
	return out, err
}

// lockedShoot is a member's shoot under its lock, with whether a restart waits on it.
type lockedShoot struct {
	ShootWithCount `bun:",extend"`
	// RestartPending: a pending restart made this shoot. Read in the lock's own
	// statement, which is safe for a restart (unlike a retry): a restart's row commits
	// with its new shoot, so a statement that sees the shoot sees the restart, and a
	// restart never turns pending again. A start of any other shoot then skips the
	// restarts' update.
	RestartPending bool `bun:"restart_pending,scanonly"`
}

func lockMemberShoot(ctx context.Context, tx bun.Tx, memberID, shootID string) (*lockedShoot, error) {
	s := new(lockedShoot)
	// 'pending' stays literal, to match the partial index of pending restarts.
	if err := tx.NewRaw(`SELECT s.*,
		EXISTS (SELECT 1 FROM restarts WHERE new_shoot_id = s.id AND status = 'pending') AS restart_pending
		FROM shoots s WHERE s.id = ?0 AND s.member_id = ?1 FOR UPDATE OF s`, shootID, memberID).Scan(ctx, s); err != nil {
		return nil, notFound(err, "shoot")
	}
	return s, nil
}

// markStarted starts what waits on the locked shoot and sends w's writes with the
// start's own (its events, its audit row) in one round trip. A pending retry is looked
// for by a statement of its own, after the lock: a give that held the shoot's lock
// while this start waited for it committed its retry before, and only a statement begun
// after the lock sees it.
func markStarted(ctx context.Context, tx bun.Tx, locked *lockedShoot, requestID, action string, now time.Time, w *writes) (*Started, error) {
	s := &locked.Shoot
	out := &Started{Shoot: s, ResultCount: locked.ResultCount}
	var retries []Retry
	if err := startPending(ctx, tx, SubjectRetry, "shoot_id", s.ID, now, &retries); err != nil {
		return nil, err
	}
	var restarts []Restart
	if locked.RestartPending {
		if err := startPending(ctx, tx, SubjectRestart, "new_shoot_id", s.ID, now, &restarts); err != nil {
			return nil, err
		}
	}
	if err := startedEvents(tx, w, retries, restarts, now); err != nil {
		return nil, err
	}
	// At most one of each: one retry per shoot, and a restart owns its new shoot.
	if len(retries) > 0 {
		out.Retry = &retries[0]
	}
	if len(restarts) > 0 {
		out.Restart = &restarts[0]
	}
	for _, r := range retries {
		out.Waiting = append(out.Waiting, r.WorkflowID)
	}
	for _, r := range restarts {
		out.Waiting = append(out.Waiting, r.WorkflowID)
	}
	if len(out.Waiting) == 0 {
		// The shoot is in onboarding (the callers check), so these are the workflows of
		// this shoot's own start, not of a later retry or restart that reused an id.
		if err := tx.NewRaw(`SELECT workflow_id FROM retries WHERE shoot_id = ?0 AND status = ?1
			UNION ALL SELECT workflow_id FROM restarts WHERE new_shoot_id = ?0 AND status = ?1`,
			s.ID, domain.StatusStarted).Scan(ctx, &out.Waiting); err != nil {
			return nil, err
		}
	}
	w.add(auditInsert(tx, AuditEvent{
		OrgID: s.OrgID, ActorKind: ActorMember, ActorID: s.MemberID, Action: action,
		TargetKind: "shoot", TargetID: s.ID, RequestID: requestID, Outcome: "ok",
		CredentialKind: CredentialMemberLink, MemberID: s.MemberID,
	}))
	return out, w.exec(ctx, tx)
}

// startPending marks the pending retries or restarts of a shoot started and returns them.
func startPending(ctx context.Context, tx bun.Tx, table Subject, shootColumn, shootID string, now time.Time, rows any) error {
	// 'pending' stays literal, like every status = 'pending' matching a partial index.
	return tx.NewRaw(`UPDATE ?0 SET status = ?1, stage = ?2, started_at = ?3, updated_at = ?3
		WHERE ?4 = ?5 AND status = 'pending' RETURNING *`,
		bun.Ident(string(table)), domain.StatusStarted, domain.StageStarted, now, bun.Ident(shootColumn), shootID).Scan(ctx, rows)
}

// CompleteShoot is the pipeline's report that a shoot finished with results.
func CompleteShoot(ctx context.Context, db bun.IDB, shootID string, resultKeys []string, requestID string, now time.Time) (*Shoot, error) {
	return pipelineTransition(ctx, db, shootID, domain.ShootActive, requestID, now, func(ctx context.Context, tx bun.Tx, s *Shoot) error {
		s.CompletedAt = &now
		if len(resultKeys) == 0 {
			return nil
		}
		rows := make([]Result, len(resultKeys))
		for i, k := range resultKeys {
			rows[i] = Result{ID: uuid.NewString(), ShootID: s.ID, StorageKey: k, CreatedAt: now}
		}
		_, err := tx.NewInsert().Model(&rows).Exec(ctx)
		return err
	})
}

// FailShoot is the pipeline's report that a shoot failed.
func FailShoot(ctx context.Context, db bun.IDB, shootID, requestID string, now time.Time) (*Shoot, error) {
	return pipelineTransition(ctx, db, shootID, domain.ShootFailed, requestID, now, nil)
}

func pipelineTransition(ctx context.Context, db bun.IDB, shootID, to, requestID string, now time.Time,
	also func(context.Context, bun.Tx, *Shoot) error) (*Shoot, error) {
	s := new(Shoot)
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(s).Where("id = ?", shootID).For("UPDATE").Scan(ctx); err != nil {
			return notFound(err, "shoot")
		}
		switch s.Status {
		case domain.ShootWaiting, domain.ShootPending, domain.ShootGeneratingHeadshots:
		default:
			return problem.New(problem.InvalidShootStatus, "the shoot is %s; only waiting, pending or generatingHeadshots shoots can become %s", s.Status, to)
		}
		s.Status, s.UpdatedAt = to, now
		if also != nil {
			if err := also(ctx, tx, s); err != nil {
				return err
			}
		}
		if _, err := tx.NewUpdate().Model(s).Column("status", "completed_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update shoot: %w", err)
		}
		return Audit(ctx, tx, AuditEvent{
			OrgID: s.OrgID, ActorKind: ActorPipeline, ActorID: "pipeline", Action: "shoot." + to,
			TargetKind: "shoot", TargetID: s.ID, RequestID: requestID, Outcome: "ok",
			CredentialKind: CredentialPipeline, MemberID: s.MemberID,
		})
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// ShootResultCount counts a shoot's results.
func ShootResultCount(ctx context.Context, db bun.IDB, shootID string) (int, error) {
	n, err := db.NewSelect().Model((*Result)(nil)).Where("shoot_id = ?", shootID).Count(ctx)
	return int(n), err
}

// GetShoot reads one shoot.
func GetShoot(ctx context.Context, db bun.IDB, shootID string) (*Shoot, error) {
	s := new(Shoot)
	if err := db.NewSelect().Model(s).Where("id = ?", shootID).Scan(ctx); err != nil {
		return nil, notFound(err, "shoot")
	}
	return s, nil
}

// PendingLinkWorkflows lists the workflows of pending retries and restarts of members
// with this address, whose email can be sent again with a fresh link.
func PendingLinkWorkflows(ctx context.Context, db bun.IDB, email string) ([]string, error) {
	var ids []string
	err := db.NewRaw(`SELECT r.workflow_id FROM retries r JOIN members m ON m.id = r.member_id
		WHERE lower(m.email) = lower(?) AND r.status = 'pending' AND r.stage = 'pending'
		UNION ALL
		SELECT x.workflow_id FROM restarts x JOIN members m ON m.id = x.member_id
		WHERE lower(m.email) = lower(?) AND x.status = 'pending'`, email, email).Scan(ctx, &ids)
	return ids, err
}
