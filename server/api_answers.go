package server

import (
	"time"

	"github.com/headshotpro/retryd/internal/store"
)

// Response shapes of the API (docs/product.md, section 4). Members may be added; none may
// be renamed.

type memberDTO struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Email *string `json:"email"`
	Kind  string  `json:"kind"`
}

type shootDTO struct {
	ID                 string     `json:"id"`
	MemberID           string     `json:"member_id,omitempty"`
	Status             string     `json:"status"`
	CompletedAt        *time.Time `json:"completed_at"`
	DeletedAt          *time.Time `json:"deleted_at"`
	RetryCount         int        `json:"retry_count"`
	ResultCount        int        `json:"result_count"`
	NextSubmissionFree *bool      `json:"next_submission_free,omitempty"`
	CreatedAt          *time.Time `json:"created_at,omitempty"`
}

type emailDTO struct {
	Status    string  `json:"status"`
	MessageID *string `json:"message_id"`
}

type retryDTO struct {
	ID            string     `json:"id"`
	MemberID      string     `json:"member_id"`
	ShootID       string     `json:"shoot_id"`
	Status        string     `json:"status"`
	Stage         string     `json:"stage"`
	AllowanceUsed string     `json:"allowance_used"`
	Reason        *string    `json:"reason"`
	Note          *string    `json:"note"`
	Email         emailDTO   `json:"email"`
	RemindersSent int        `json:"reminders_sent"`
	IssuedBy      string     `json:"issued_by"`
	IssuedByKind  string     `json:"issued_by_kind"`
	IssuedAt      time.Time  `json:"issued_at"`
	StartedAt     *time.Time `json:"started_at"`
	WorkflowID    string     `json:"workflow_id"`
	// AccessLink is set only in the answer of a give (and its replays) when the member
	// has no email address: signed as it is sent (signLinks), never stored.
	AccessLink *string `json:"access_link,omitempty"`
}

type restartDTO struct {
	ID         string     `json:"id"`
	MemberID   string     `json:"member_id"`
	OldShootID string     `json:"old_shoot_id"`
	NewShootID string     `json:"new_shoot_id"`
	Status     string     `json:"status"`
	Stage      string     `json:"stage"`
	Email      emailDTO   `json:"email"`
	IssuedBy   string     `json:"issued_by"`
	IssuedAt   time.Time  `json:"issued_at"`
	StartedAt  *time.Time `json:"started_at"`
	WorkflowID string     `json:"workflow_id"`
	AccessLink *string    `json:"access_link,omitempty"`
}

// memberWorkDTO is a retry or restart as its member sees it: which one, for which shoot
// (a restart's new shoot), and whether it is started. Who issued it, why, the admin's
// note and the workflow behind it are the organization's business, not the member's.
type memberWorkDTO struct {
	ID      string `json:"id"`
	ShootID string `json:"shoot_id"`
	Status  string `json:"status"`
}

// memberShootAnswer answers a member's start and submit.
type memberShootAnswer struct {
	Shoot         shootDTO       `json:"shoot"`
	CreditCharged bool           `json:"credit_charged"`
	Retry         *memberWorkDTO `json:"retry"`
	Restart       *memberWorkDTO `json:"restart"`
}

// linkAnswer answers a member's request for a fresh link.
type linkAnswer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type allowanceDTO struct {
	RetryCredits       int  `json:"retry_credits"`
	FreeRetryAvailable bool `json:"free_retry_available"`
	RetriesRemaining   int  `json:"retries_remaining"`
}

func toMember(m *store.Member) memberDTO {
	return memberDTO{ID: m.ID, Name: m.Name, Email: m.Email, Kind: m.Kind}
}

func toAllowance(m *store.Member) allowanceDTO {
	return allowanceDTO{RetryCredits: m.RetryCredits, FreeRetryAvailable: m.FreeRetryAvailable, RetriesRemaining: m.RetriesRemaining()}
}

func toShoot(s *store.Shoot, results int) shootDTO {
	free := s.NextSubmissionFree
	created := s.CreatedAt
	return shootDTO{
		ID: s.ID, MemberID: s.MemberID, Status: s.Status, CompletedAt: s.CompletedAt, DeletedAt: s.DeletedAt,
		RetryCount: s.RetryCount, ResultCount: results, NextSubmissionFree: &free, CreatedAt: &created,
	}
}

func toRetry(r *store.Retry) retryDTO {
	return retryDTO{
		ID: r.ID, MemberID: r.MemberID, ShootID: r.ShootID, Status: r.Status, Stage: r.Stage,
		AllowanceUsed: r.AllowanceUsed, Reason: r.Reason, Note: r.Note,
		Email:         emailDTO{Status: r.EmailStatus, MessageID: r.EmailMessageID},
		RemindersSent: r.RemindersSent, IssuedBy: r.IssuedBy, IssuedByKind: r.IssuedByKind,
		IssuedAt: r.IssuedAt, StartedAt: r.StartedAt, WorkflowID: r.WorkflowID,
	}
}

func toMemberRetry(r *store.Retry) *memberWorkDTO {
	return &memberWorkDTO{ID: r.ID, ShootID: r.ShootID, Status: r.Status}
}

func toMemberRestart(r *store.Restart) *memberWorkDTO {
	return &memberWorkDTO{ID: r.ID, ShootID: r.NewShootID, Status: r.Status}
}

func toRestart(r *store.Restart) restartDTO {
	return restartDTO{
		ID: r.ID, MemberID: r.MemberID, OldShootID: r.OldShootID, NewShootID: r.NewShootID,
		Status: r.Status, Stage: r.Stage, Email: emailDTO{Status: r.EmailStatus, MessageID: r.EmailMessageID},
		IssuedBy: r.IssuedBy, IssuedAt: r.IssuedAt, StartedAt: r.StartedAt, WorkflowID: r.WorkflowID,
	}
}
