package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/rules"
)

// CreateRestartParams are the ids a restart is created with.
type CreateRestartParams struct {
	RestartID  string
	OrgID      string
	MemberID   string
	NewShootID string
	WorkflowID string
	Actor      Actor
	Now        time.Time
}

// restartFacts reads what rules.CheckRestart needs and the member's most recent
// deleted shoot, the one being restarted.
func restartFacts(ctx context.Context, db bun.IDB, m *Member) (rules.RestartFacts, string, error) {
	var deletedID sql.NullString
	var open bool
	err := db.NewRaw(`SELECT
		(SELECT id::text FROM shoots WHERE member_id = ?0 AND status = ?1 ORDER BY created_at DESC, id DESC LIMIT 1),
		EXISTS (SELECT 1 FROM shoots WHERE member_id = ?0 AND status <> ?1)`, m.ID, domain.ShootDeleted).Scan(ctx, &deletedID, &open)
	if err != nil {
		return rules.RestartFacts{}, "", err
	}
	return rules.RestartFacts{MemberKind: m.Kind, HasDeletedShoot: deletedID.Valid, HasOtherShoot: open}, deletedID.String, nil
}

// CheckRestart evaluates the restart rules without changing anything.
func CheckRestart(ctx context.Context, db bun.IDB, orgID, memberID string) error {
	m, err := GetMember(ctx, db, orgID, memberID)
	if err != nil {
		return err
	}
	facts, _, err := restartFacts(ctx, db, m)
	if err != nil {
		return err
	}
	return rules.CheckRestart(facts)
}

// CreateRestart checks the restart rules with the member row locked and, in the same
// transaction, creates the new onboarding shoot and the restart record. The same restart
// id again returns the recorded restart.
func CreateRestart(ctx context.Context, db bun.IDB, p CreateRestartParams) (*Restart, error) {
	var out *Restart
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		m := new(Member)
		if err := tx.NewSelect().Model(m).Where("id = ? AND org_id = ?", p.MemberID, p.OrgID).For("UPDATE").Scan(ctx); err != nil {
			return notFound(err, "member")
		}
		// Looked up under the member's lock, so a concurrent attempt that committed first
		// is seen here rather than refused as an open shoot.
		existing := new(Restart)
		err := tx.NewSelect().Model(existing).Where("id = ?", p.RestartID).Scan(ctx)
		if err == nil && existing.MemberID != p.MemberID {
			return problem.New(problem.IdempotencyKeyReused, "this restart id belongs to another member")
		}
		if err == nil && existing.Status == domain.StatusFailed {
			return problem.New(problem.Canceled, "this restart was canceled; it is not resumed")
		}
		if err == nil {
			existing.Recorded = true
			out = existing
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		facts, oldShootID, err := restartFacts(ctx, tx, m)
		if err != nil {
			return err
		}
		if err := rules.CheckRestart(facts); err != nil {
			return err
		}
		shoot := &Shoot{ID: p.NewShootID, OrgID: p.OrgID, MemberID: m.ID, Status: domain.ShootOnboarding, CreatedAt: p.Now, UpdatedAt: p.Now}
		if _, err := tx.NewInsert().Model(shoot).Exec(ctx); err != nil {
			return err
		}
		emailStatus := domain.EmailQueued
		if m.Email == nil || *m.Email == "" {
			emailStatus = domain.EmailNotApplicable
		}
		r := &Restart{
			ID: p.RestartID, OrgID: p.OrgID, MemberID: m.ID, OldShootID: oldShootID, NewShootID: shoot.ID,
			IssuedByKind: p.Actor.Kind, IssuedBy: p.Actor.ID, IssuedAt: p.Now,
			Status: domain.StatusPending, Stage: domain.StagePending, EmailStatus: emailStatus, WorkflowID: p.WorkflowID, UpdatedAt: p.Now,
		}
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			if IsUniqueViolation(err, "restarts_one_pending_per_member") {
				return problem.New(problem.ActiveShootExists, "the member already has a restarted shoot in progress")
			}
			return err
		}
		if err := Audit(ctx, tx, p.Actor.Event(AuditEvent{
			OrgID: p.OrgID, Action: AuditShootRestart, TargetKind: "restart", TargetID: r.ID, Outcome: "created", MemberID: m.ID,
			Detail: map[string]any{"member_id": m.ID, "old_shoot_id": oldShootID, "new_shoot_id": shoot.ID},
		})); err != nil {
			return err
		}
		if err := RecordEvent(ctx, tx, restartEvent(domain.EventRestartIssued, r, p.Now,
			map[string]any{"issued_by_kind": r.IssuedByKind, "email_status": r.EmailStatus})); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// SetRestartStage records a stage reached by the restart workflow. A restart that fails
// (an operator canceled it) before the member submitted anything takes its new shoot
// back to deleted, so the member can be restarted again.
//
// A restart that turns started or failed here is reported to webhooks (restart.started,
// restart.canceled) in the same transaction; a second call changes no row and reports
// nothing.
func SetRestartStage(ctx context.Context, db bun.IDB, restartID, stage string, now time.Time) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := stageUpdate(tx.NewUpdate().Model((*Restart)(nil)), restartID, stage, now)
		var changed []Restart
		if err := q.Returning("*").Scan(ctx, &changed); err != nil {
			return err
		}
		switch stage {
		case domain.StageStarted:
			// The member's own start is reported by StartShoot; this is a start the
			// workflow learned of another way.
			for i := range changed {
				if err := RecordEvent(ctx, tx, restartEvent(domain.EventRestartStarted, &changed[i], now, map[string]any{"started_at": now.UTC()})); err != nil {
					return err
				}
			}
		case domain.StageFailed:
			for i := range changed {
				if err := RecordEvent(ctx, tx, restartEvent(domain.EventRestartCanceled, &changed[i], now, nil)); err != nil {
					return err
				}
			}
		}
		if stage != domain.StageFailed || len(changed) == 0 {
			return nil
		}
		_, err := tx.NewRaw(`UPDATE shoots SET status = ?0, deleted_at = ?1, updated_at = ?1
			WHERE id = (SELECT new_shoot_id FROM restarts WHERE id = ?2)
			AND status = ?3 AND submitted_at IS NULL`, domain.ShootDeleted, now, restartID, domain.ShootOnboarding).Exec(ctx)
		return err
	})
}

// GetRestart reads one restart.
func GetRestart(ctx context.Context, db bun.IDB, restartID string) (*Restart, error) {
	r := new(Restart)
	if err := db.NewSelect().Model(r).Where("id = ?", restartID).Scan(ctx); err != nil {
		return nil, notFound(err, "restart")
	}
	return r, nil
}
