package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// resendOrg seeds an organization whose n members each have a finished shoot and gives
// each a retry through store.GiveRetry; it returns the organization and the retry ids.
func resendOrg(t *testing.T, db *bun.DB, n int) (orgID string, retryIDs []string) {
	t.Helper()
	ctx := context.Background()
	orgID, adminID := uuid.NewString(), uuid.NewString()
	done := time.Now().Add(-72 * time.Hour)
	members := make([]seed.Member, n)
	for i := range members {
		email := uuid.NewString()[:8] + "@acme.test"
		members[i] = seed.Member{ID: uuid.NewString(), Name: "Member " + email, Email: &email, Kind: "individual",
			Shoots: []seed.Shoot{{ID: uuid.NewString(), Status: "active", CompletedAt: &done, Results: 1}}}
	}
	if _, err := seed.Load(ctx, db, &seed.File{Organizations: []seed.Organization{{
		ID: orgID, Name: "Org " + orgID[:8], CreditBalance: n,
		Admins:  []seed.Admin{{ID: adminID, Email: "lead-" + orgID[:8] + "@example.test", Name: "Lee", Role: "owner"}},
		Members: members,
	}}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		id := uuid.NewString()
		if _, err := store.GiveRetry(ctx, db, store.ReserveRetryParams{RetryID: id, OrgID: orgID, MemberID: m.ID, ShootID: m.Shoots[0].ID,
			WorkflowID: "retry-" + m.Shoots[0].ID, Actor: store.Actor{Kind: "admin", ID: adminID}, Now: time.Now(), Window: 60 * 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
		retryIDs = append(retryIDs, id)
	}
	return orgID, retryIDs
}

// sendEmail records email seq of a retry as the send activity does once the provider took it.
func sendEmail(t *testing.T, db *bun.DB, retryID string, seq int, kind string) {
	t.Helper()
	ctx := context.Background()
	e, err := store.BeginEmail(ctx, db, retryID, seq, kind)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.FinishEmail(ctx, db, store.SubjectRetry, e, "msg-"+uuid.NewString(), time.Now()); err != nil {
		t.Fatal(err)
	}
}

func wantQueueFull(t *testing.T, err error, queued int) {
	t.Helper()
	var full *store.EmailQueueFullError
	if !errors.As(err, &full) || full.Queued != queued {
		t.Fatalf("claim: %v, want the queue full with %d queued", err, queued)
	}
}

// TestClaimResend: the cooldown runs from a retry's last email or resend; the queued
// emails of an organization are its first emails not yet sent and its resends not yet
// sent, counted per organization; a released claim is given back.
func TestClaimResend(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	orgA, a := resendOrg(t, db, 3)
	orgB, b := resendOrg(t, db, 1)
	cap3 := store.ResendLimits{QueueCap: 3}

	// Three first emails wait: the cap of three is reached; B's queue is its own.
	_, err := store.ClaimResend(ctx, db, orgA, a[0], cap3)
	wantQueueFull(t, err, 3)
	if _, err := store.ClaimResend(ctx, db, orgB, b[0], cap3); err != nil {
		t.Fatalf("B's resend: %v", err)
	}

	// One first email sent: within the cooldown of it, a resend is refused with the wait.
	sendEmail(t, db, a[0], 0, domain.EmailKindInitial)
	_, err = store.ClaimResend(ctx, db, orgA, a[0], store.ResendLimits{Cooldown: time.Minute, QueueCap: 3})
	var soon *store.ResendTooSoonError
	if !errors.As(err, &soon) || soon.Wait <= 50*time.Second || soon.Wait > time.Minute {
		t.Fatalf("claim right after the first email: %v, want too soon with about a minute left", err)
	}

	// Without a cooldown it goes, and counts as queued until its email is sent.
	claim, err := store.ClaimResend(ctx, db, orgA, a[0], cap3)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.ClaimResend(ctx, db, orgA, a[1], cap3)
	wantQueueFull(t, err, 3) // two first emails and the resend
	// The claim was the last email: the cooldown now runs from it.
	if _, err := store.ClaimResend(ctx, db, orgA, a[0], store.ResendLimits{Cooldown: time.Minute, QueueCap: 10}); !errors.As(err, &soon) {
		t.Fatalf("claim right after a claim: %v, want too soon", err)
	}

	// Given back (the workflow refused it), it is neither queued nor a last email.
	if err := claim.Release(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := store.ClaimResend(ctx, db, orgA, a[1], cap3); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	_, err = store.ClaimResend(ctx, db, orgA, a[2], cap3)
	wantQueueFull(t, err, 3)

	// The resend's email sent: no longer queued.
	sendEmail(t, db, a[1], 1, domain.EmailKindResend)
	if _, err := store.ClaimResend(ctx, db, orgA, a[2], cap3); err != nil {
		t.Fatalf("after the resend went out: %v", err)
	}

	// Not pending, not found, or another organization's retry.
	if _, err := db.NewRaw(`UPDATE retries SET status = 'started' WHERE id = ?`, a[0]).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		org, retry string
		code       problem.Code
	}{{orgA, a[0], problem.RetryNotPending}, {orgA, uuid.NewString(), problem.NotFound}, {orgB, a[1], problem.NotFound}} {
		_, err := store.ClaimResend(ctx, db, c.org, c.retry, cap3)
		if pe, ok := problem.As(err); !ok || pe.Code != c.code {
			t.Errorf("claim of %s for %s: %v, want %s", c.retry, c.org, err, c.code)
		}
	}
}
