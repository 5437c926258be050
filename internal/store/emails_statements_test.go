package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/querycount"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestFinishEmailIsOneStatement: recording a sent email, its retry's email status and
// the retry.email_delivered event is one round trip, on every give's path; what each
// part writes is held by TestEventsRecordedWithTheirChange and the email tests.
func TestFinishEmailIsOneStatement(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	_, retries := resendOrg(t, db, 1)
	e, err := store.BeginEmail(ctx, db, retries[0], 0, domain.EmailKindInitial)
	if err != nil {
		t.Fatal(err)
	}
	count := querycount.All()
	if err := store.FinishEmail(ctx, db.WithQueryHook(count), store.SubjectRetry, e, "msg-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := count.Count(); n != 1 {
		t.Errorf("FinishEmail sent %d statements, want 1", n)
	}
	r, err := store.GetRetry(ctx, db, retries[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.EmailStatus != domain.EmailSent || r.EmailMessageID == nil || *r.EmailMessageID != "msg-1" {
		t.Errorf("retry email status %s, message id %v; want sent, msg-1", r.EmailStatus, r.EmailMessageID)
	}
}
