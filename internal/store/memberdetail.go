package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/problem"
)

// The member detail's four reads. Each list is one range of a (member_id, …) index; the
// result counts are the shoots' own column and a retry's note is a per-row primary-key
// probe (a scalar subquery, which the planner cannot turn into a join that reads all of
// retry_notes). Each names the organization too: the four go together, so none relies
// on the member's read having found the member first. Their columns are the models'
// fields in order, as the scans below take them; memberdetail_test.go holds them to what
// bun reads into the same models.
const (
	memberDetailMember = `SELECT id, org_id, name, email, kind, retry_credits, free_retry_available, created_at ` +
		`FROM members WHERE id = $1 AND org_id = $2`
	memberDetailShoots = `SELECT id, org_id, member_id, status, completed_at, deleted_at, retry_count, ` +
		`next_submission_free, started_at, submitted_at, created_at, updated_at, result_count ` +
		`FROM shoots WHERE member_id = $1 AND org_id = $2 ORDER BY created_at DESC, id DESC`
	memberDetailRetries = `SELECT r.id, r.org_id, r.member_id, r.shoot_id, r.issued_by_kind, r.issued_by, r.issued_at, ` +
		`r.allowance_used, r.reason, r.status, r.stage, r.email_status, r.email_message_id, r.reminders_sent, ` +
		`r.started_at, r.workflow_id, r.updated_at, ` +
		`(SELECT n.note FROM retry_notes AS n WHERE n.retry_id = r.id) AS note ` +
		`FROM retries AS r WHERE r.member_id = $1 AND r.org_id = $2 ORDER BY r.issued_at DESC, r.id DESC`
	memberDetailRestarts = `SELECT id, org_id, member_id, old_shoot_id, new_shoot_id, issued_by_kind, issued_by, issued_at, ` +
		`status, stage, email_status, email_message_id, reminders_sent, started_at, workflow_id, updated_at ` +
		`FROM restarts WHERE member_id = $1 AND org_id = $2 ORDER BY issued_at DESC, id DESC`
)

// MemberDetailStatements are the four reads of a member's detail, in the order
// GetMemberDetail sends them.
func MemberDetailStatements(orgID, memberID string) []Statement {
	return []Statement{
		{SQL: memberDetailMember, Args: []any{memberID, orgID}},
		{SQL: memberDetailShoots, Args: []any{memberID, orgID}},
		{SQL: memberDetailRetries, Args: []any{memberID, orgID}},
		{SQL: memberDetailRestarts, Args: []any{memberID, orgID}},
	}
}

// StatementBatch queues the statements as one batch: on a connection of the simple
// protocol (the pool's), pgx sends them as one message, in one round trip.
func StatementBatch(stmts []Statement) *pgx.Batch {
	b := &pgx.Batch{}
	for _, st := range stmts {
		b.Queue(st.SQL, st.Args...)
	}
	return b
}

// GetMemberDetail reads a member with shoots, retries and restarts, newest first, in one
// round trip. The rows are read as pgx receives them, around database/sql and bun's
// reflection (see readPgx): the page is an admin's most frequent read after the
// dashboard, and its four round trips were half of the API's CPU for it in a profile.
func GetMemberDetail(ctx context.Context, db *bun.DB, orgID, memberID string) (*MemberDetail, error) {
	var d *MemberDetail
	err := withPgxConn(ctx, db, func(c *pgx.Conn) error {
		br := c.SendBatch(ctx, StatementBatch(MemberDetailStatements(orgID, memberID)))
		read, err := readMemberDetail(br)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		d = read
		return err
	})
	if err != nil {
		return nil, err
	}
	if d.Member == nil {
		return nil, problem.New(problem.NotFound, "member not found")
	}
	return d, nil
}

// readMemberDetail reads the batch's four results; Member is nil when the organization
// has no such member.
func readMemberDetail(br pgx.BatchResults) (*MemberDetail, error) {
	d := &MemberDetail{}
	if err := readRows(br, "member", func(rows pgx.Rows) error {
		m := new(Member)
		d.Member = m
		return rows.Scan(&m.ID, &m.OrgID, &m.Name, &m.Email, &m.Kind, &m.RetryCredits, &m.FreeRetryAvailable, &m.CreatedAt)
	}); err != nil {
		return nil, err
	}
	if err := readRows(br, "shoots", func(rows pgx.Rows) error {
		d.Shoots = append(d.Shoots, ShootWithCount{})
		s := &d.Shoots[len(d.Shoots)-1]
		return rows.Scan(&s.ID, &s.OrgID, &s.MemberID, &s.Status, &s.CompletedAt, &s.DeletedAt, &s.RetryCount,
			&s.NextSubmissionFree, &s.StartedAt, &s.SubmittedAt, &s.CreatedAt, &s.UpdatedAt, &s.ResultCount)
	}); err != nil {
		return nil, err
	}
	if err := readRows(br, "retries", func(rows pgx.Rows) error {
		d.Retries = append(d.Retries, Retry{})
		r := &d.Retries[len(d.Retries)-1]
		return rows.Scan(&r.ID, &r.OrgID, &r.MemberID, &r.ShootID, &r.IssuedByKind, &r.IssuedBy, &r.IssuedAt,
			&r.AllowanceUsed, &r.Reason, &r.Status, &r.Stage, &r.EmailStatus, &r.EmailMessageID, &r.RemindersSent,
			&r.StartedAt, &r.WorkflowID, &r.UpdatedAt, &r.Note)
	}); err != nil {
		return nil, err
	}
	if err := readRows(br, "restarts", func(rows pgx.Rows) error {
		d.Restarts = append(d.Restarts, Restart{})
		r := &d.Restarts[len(d.Restarts)-1]
		return rows.Scan(&r.ID, &r.OrgID, &r.MemberID, &r.OldShootID, &r.NewShootID, &r.IssuedByKind, &r.IssuedBy,
			&r.IssuedAt, &r.Status, &r.Stage, &r.EmailStatus, &r.EmailMessageID, &r.RemindersSent, &r.StartedAt,
			&r.WorkflowID, &r.UpdatedAt)
	}); err != nil {
		return nil, err
	}
	return d, nil
}

// readRows hands each row of the batch's next result to scan.
func readRows(br pgx.BatchResults, what string, scan func(pgx.Rows) error) error {
	rows, err := br.Query()
	if err == nil {
		err = scanRows(rows, scan)
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", what, err)
	}
	return nil
}
