package server

import (
	"time"

	"github.com/headshotpro/retryd/internal/store"
)

// Response shapes the API's resources share (docs/product.md, section 4); a retry's and a
// restart's own live beside their handlers. Members may be added; none may be renamed.

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

func toMemberRetry(r *store.Retry) *memberWorkDTO {
	return &memberWorkDTO{ID: r.ID, ShootID: r.ShootID, Status: r.Status}
}

func toMemberRestart(r *store.Restart) *memberWorkDTO {
	return &memberWorkDTO{ID: r.ID, ShootID: r.NewShootID, Status: r.Status}
}
