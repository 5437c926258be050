// Package rules holds the product's eligibility rules (docs/product.md, section 3) as pure
// functions, so the API's preview, the API's pre-check and the activity that reserves
// under row locks all decide the same way.
package rules

import (
	"strconv"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
)

// DefaultRetryWindow is HeadshotPro's "completed within the last 60 days".
const DefaultRetryWindow = 60 * 24 * time.Hour

// Allowance names which allowance a retry consumes.
type Allowance string

const (
	AllowanceRetryCredit Allowance = "retry_credit"
	AllowanceFreeRetry   Allowance = "free_retry"
)

// RetryFacts is what the give-retry rules look at. The caller has already established
// that the member and the shoot belong to the caller's organization (rule 1 in
// docs/product.md).
type RetryFacts struct {
	MemberHasPendingRetry bool
	ShootStatus           string
	ShootCompletedAt      *time.Time
	ShootRetried          bool // a retry record exists for the shoot, or its retry_count > 0
	RetryCredits          int
	FreeRetryAvailable    bool
}

// CheckRetry applies give-retry rules 2–6 of docs/product.md in order and returns the
// allowance the retry would use, or the first broken rule as a *problem.Error.
func CheckRetry(f RetryFacts, now time.Time, window time.Duration) (Allowance, error) {
	if f.MemberHasPendingRetry {
		return "", problem.New(problem.RetryPending, "the member already has a pending retry; ask them to log in and start their photo shoot")
	}
	if f.ShootStatus != domain.ShootActive || f.ShootCompletedAt == nil {
		return "", problem.New(problem.ShootNotFinished, "only finished shoots can be retried (the shoot is %s)", f.ShootStatus)
	}
	if f.ShootRetried {
		return "", problem.New(problem.ShootAlreadyRetried, "each shoot can be retried once")
	}
	if !withinWindow(f.ShootCompletedAt, now, window) {
		return "", problem.New(problem.RetryWindowExpired, "retries are only available for shoots completed within the last %s", humanWindow(window))
	}
	return consume(f.RetryCredits, f.FreeRetryAvailable)
}

// RetryDeadline is the last instant at which rule 5 of docs/product.md still allows a
// retry of a shoot completed at completedAt: the dashboard shows it on a Finished card.
func RetryDeadline(completedAt time.Time, window time.Duration) time.Time {
	return completedAt.Add(window)
}

// consume is rule 6 and effect 1 of docs/product.md: a retry credit first (it does not
// count against the one free retry), else the free retry.
func consume(credits int, free bool) (Allowance, error) {
	switch {
	case credits > 0:
		return AllowanceRetryCredit, nil
	case free:
		return AllowanceFreeRetry, nil
	default:
		return "", problem.New(problem.RetryCreditsExhausted, "the member has used their free retry and holds no retry credits")
	}
}

// HasAllowance is rule 6 of docs/product.md alone: whether the Actions menu may offer a
// retry.
func HasAllowance(credits int, free bool) bool {
	_, err := consume(credits, free)
	return err == nil
}

// RestartFacts is what the restart rules look at.
type RestartFacts struct {
	MemberKind      string
	HasDeletedShoot bool
	HasOtherShoot   bool // any shoot in a status other than deleted
}

// CheckRestart applies the managed-member restart rules in order.
func CheckRestart(f RestartFacts) error {
	if f.MemberKind != domain.KindManaged {
		return problem.New(problem.NotManaged, "only managed members' deleted shoots can be restarted")
	}
	if !f.HasDeletedShoot {
		return problem.New(problem.NoDeletedShoot, "the member has no deleted shoot")
	}
	if f.HasOtherShoot {
		return problem.New(problem.ActiveShootExists, "the member has an active or in-progress shoot")
	}
	return nil
}

// The actions a dashboard card may offer, as the JSON API names them.
const (
	ActionGiveRetry    = "give_retry"
	ActionRestartShoot = "restart_shoot"
)

// CardFacts is what a dashboard card's actions look at. ShootCompletedAt, Now and Window
// are rule 5's facts for a Finished card: the card offers no retry the window refuses.
type CardFacts struct {
	Section            string
	RetryCredits       int
	FreeRetryAvailable bool
	PendingRetry       bool
	// ShootRetried: the card's shoot was retried already (its retry_count > 0).
	ShootRetried     bool
	ShootCompletedAt *time.Time
	Now              time.Time
	Window           time.Duration
	Restart          RestartFacts
}

// CardActions decides the actions of a dashboard card, for the JSON API's card and the
// admin pages' buttons alike: give_retry on a Finished card when the member has a pending
// retry (the preview then shows the pending notice, as CheckRetry's rule 2 comes first),
// or has an allowance for a shoot not yet retried whose retry window has not ended; restart_shoot on a
// Deleted card exactly when a restart would be allowed. An In Progress card offers none;
// its pending retry is shown, not acted on.
func CardActions(f CardFacts) []string {
	actions := []string{}
	switch f.Section {
	case domain.SectionFinished:
		if f.PendingRetry || (!f.ShootRetried && HasAllowance(f.RetryCredits, f.FreeRetryAvailable) && withinWindow(f.ShootCompletedAt, f.Now, f.Window)) {
			actions = append(actions, ActionGiveRetry)
		}
	case domain.SectionDeleted:
		if CheckRestart(f.Restart) == nil {
			actions = append(actions, ActionRestartShoot)
		}
	}
	return actions
}

// withinWindow is rule 5 of docs/product.md as CheckRetry applies it; a shoot without a
// completion time is not finished (rule 3), so it has no window either.
func withinWindow(completedAt *time.Time, now time.Time, window time.Duration) bool {
	return completedAt != nil && !now.After(RetryDeadline(*completedAt, window))
}

// Section is the dashboard section of a member, by the status of their most recent shoot.
// Migration 20261202000002_dashboard_cards spells the same rule in SQL for the cards it
// keeps; a store test holds the two equal.
func Section(status string) string {
	switch status {
	case domain.ShootActive:
		return domain.SectionFinished
	case domain.ShootDeleted:
		return domain.SectionDeleted
	default:
		return domain.SectionInProgress
	}
}

func humanWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		days := int(d / (24 * time.Hour))
		if days == 1 {
			return "1 day"
		}
		return strconv.Itoa(days) + " days"
	}
	return d.String()
}
