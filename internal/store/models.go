// Package store holds retryd's data: bun models, the embedded migrations and the
// queries, each of which keeps the product rules in one transaction.
package store

import (
	"time"

	"github.com/uptrace/bun"
)

// Actor kinds: who issued a change.
const (
	ActorAdmin      = "admin"
	ActorAutomation = "automation"
	ActorMember     = "member"
	ActorPipeline   = "pipeline"
	ActorSystem     = "system"
)

type Organization struct {
	bun.BaseModel `bun:"table:organizations"`

	ID            string    `bun:"id,pk,type:uuid"`
	Name          string    `bun:"name"`
	CreditBalance int       `bun:"credit_balance"`
	CreatedAt     time.Time `bun:"created_at,nullzero,default:now()"`
}

type Admin struct {
	bun.BaseModel `bun:"table:admins"`

	ID        string    `bun:"id,pk,type:uuid"`
	OrgID     string    `bun:"org_id,type:uuid"`
	Email     string    `bun:"email"`
	Name      string    `bun:"name"`
	Role      string    `bun:"role"`
	CreatedAt time.Time `bun:"created_at,nullzero,default:now()"`
}

type APIKey struct {
	bun.BaseModel `bun:"table:api_keys"`

	ID        string     `bun:"id,pk,type:uuid"`
	OrgID     string     `bun:"org_id,type:uuid"`
	Role      string     `bun:"role"`
	AdminID   *string    `bun:"admin_id,type:uuid"`
	KeyHash   []byte     `bun:"key_hash"`
	Prefix    string     `bun:"prefix"`
	CreatedAt time.Time  `bun:"created_at,nullzero,default:now()"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

type Member struct {
	bun.BaseModel `bun:"table:members"`

	ID                 string    `bun:"id,pk,type:uuid"`
	OrgID              string    `bun:"org_id,type:uuid"`
	Name               string    `bun:"name"`
	Email              *string   `bun:"email"`
	Kind               string    `bun:"kind"`
	RetryCredits       int       `bun:"retry_credits"`
	FreeRetryAvailable bool      `bun:"free_retry_available"`
	CreatedAt          time.Time `bun:"created_at,nullzero,default:now()"`
}

// RetriesRemaining is what the dashboard shows: extra credits plus the free retry.
func (m *Member) RetriesRemaining() int {
	n := m.RetryCredits
	if m.FreeRetryAvailable {
		n++
	}
	return n
}

type Shoot struct {
	bun.BaseModel `bun:"table:shoots"`

	ID                 string     `bun:"id,pk,type:uuid"`
	OrgID              string     `bun:"org_id,type:uuid"`
	MemberID           string     `bun:"member_id,type:uuid"`
	Status             string     `bun:"status"`
	CompletedAt        *time.Time `bun:"completed_at"`
	DeletedAt          *time.Time `bun:"deleted_at"`
	RetryCount         int        `bun:"retry_count"`
	NextSubmissionFree bool       `bun:"next_submission_free"`
	StartedAt          *time.Time `bun:"started_at"`
	SubmittedAt        *time.Time `bun:"submitted_at"`
	CreatedAt          time.Time  `bun:"created_at,nullzero,default:now()"`
	UpdatedAt          time.Time  `bun:"updated_at,nullzero,default:now()"`
}

type Result struct {
	bun.BaseModel `bun:"table:results"`

	ID         string    `bun:"id,pk,type:uuid"`
	ShootID    string    `bun:"shoot_id,type:uuid"`
	StorageKey string    `bun:"storage_key"`
	CreatedAt  time.Time `bun:"created_at,nullzero,default:now()"`
}

type Retry struct {
	bun.BaseModel `bun:"table:retries"`
	// Recorded: the reservation found this row already written (a resumed run), not a
	// column.
	Recorded bool `bun:"-"`

	ID             string     `bun:"id,pk,type:uuid"`
	OrgID          string     `bun:"org_id,type:uuid"`
	MemberID       string     `bun:"member_id,type:uuid"`
	ShootID        string     `bun:"shoot_id,type:uuid"`
	IssuedByKind   string     `bun:"issued_by_kind"`
	IssuedBy       string     `bun:"issued_by,type:uuid"`
	IssuedAt       time.Time  `bun:"issued_at"`
	AllowanceUsed  string     `bun:"allowance_used"`
	Reason         *string    `bun:"reason"`
	Status         string     `bun:"status"`
	Stage          string     `bun:"stage"`
	EmailStatus    string     `bun:"email_status"`
	EmailMessageID *string    `bun:"email_message_id"`
	RemindersSent  int        `bun:"reminders_sent"`
	StartedAt      *time.Time `bun:"started_at"`
	WorkflowID     string     `bun:"workflow_id"`
	UpdatedAt      time.Time  `bun:"updated_at,nullzero,default:now()"`

	// Note is read from retry_notes; it is not a column of retries.
	Note *string `bun:"note,scanonly"`
}

type RetryNote struct {
	bun.BaseModel `bun:"table:retry_notes"`

	RetryID   string    `bun:"retry_id,pk,type:uuid"`
	Note      string    `bun:"note"`
	CreatedAt time.Time `bun:"created_at,nullzero,default:now()"`
}

type Restart struct {
	bun.BaseModel `bun:"table:restarts"`
	// Recorded: the reservation found this row already written (a resumed run), not a
	// column.
	Recorded bool `bun:"-"`

	ID             string     `bun:"id,pk,type:uuid"`
	OrgID          string     `bun:"org_id,type:uuid"`
	MemberID       string     `bun:"member_id,type:uuid"`
	OldShootID     string     `bun:"old_shoot_id,type:uuid"`
	NewShootID     string     `bun:"new_shoot_id,type:uuid"`
	IssuedByKind   string     `bun:"issued_by_kind"`
	IssuedBy       string     `bun:"issued_by,type:uuid"`
	IssuedAt       time.Time  `bun:"issued_at"`
	Status         string     `bun:"status"`
	Stage          string     `bun:"stage"`
	EmailStatus    string     `bun:"email_status"`
	EmailMessageID *string    `bun:"email_message_id"`
	RemindersSent  int        `bun:"reminders_sent"`
	StartedAt      *time.Time `bun:"started_at"`
	WorkflowID     string     `bun:"workflow_id"`
	UpdatedAt      time.Time  `bun:"updated_at,nullzero,default:now()"`
}

type Email struct {
	bun.BaseModel `bun:"table:emails"`

	ID        string     `bun:"id,pk,type:uuid"`
	SubjectID string     `bun:"subject_id,type:uuid"`
	Seq       int        `bun:"seq"`
	Kind      string     `bun:"kind"`
	Status    string     `bun:"status"`
	MessageID *string    `bun:"message_id"`
	Attempts  int        `bun:"attempts"`
	LastError *string    `bun:"last_error"`
	CreatedAt time.Time  `bun:"created_at,nullzero,default:now()"`
	SentAt    *time.Time `bun:"sent_at"`
}

type AuditEvent struct {
	bun.BaseModel `bun:"table:audit_events"`

	ID         int64          `bun:"id,pk,autoincrement"`
	OrgID      string         `bun:"org_id,type:uuid"`
	ActorKind  string         `bun:"actor_kind"`
	ActorID    string         `bun:"actor_id"`
	Action     string         `bun:"action"`
	TargetKind string         `bun:"target_kind"`
	TargetID   string         `bun:"target_id"`
	RequestID  string         `bun:"request_id"`
	Outcome    string         `bun:"outcome"`
	Detail     map[string]any `bun:"detail,type:jsonb"`
	CreatedAt  time.Time      `bun:"created_at,nullzero,default:now()"`
	// The credential the action was done with (Actor.Credential) and the member it
	// concerns, if any.
	CredentialKind string `bun:"credential_kind"`
	CredentialID   string `bun:"credential_id"`
	KeyID          string `bun:"key_id,type:uuid,nullzero"`
	MemberID       string `bun:"member_id,type:uuid,nullzero"`
}

type IdempotencyKey struct {
	bun.BaseModel `bun:"table:idempotency_keys"`

	OrgID       string    `bun:"org_id,pk,type:uuid"`
	Key         string    `bun:"key,pk"`
	Route       string    `bun:"route"`
	RequestHash string    `bun:"request_hash"`
	StatusCode  *int      `bun:"status_code"`         // nil while the first request runs
	Response    []byte    `bun:"response,type:bytea"` // the exact bytes first sent
	CreatedAt   time.Time `bun:"created_at,nullzero,default:now()"`
}
