package bench

import (
	"errors"
	"fmt"
	"time"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/domain"
)

// MaxBulkSize is the most members one bulk restart call takes (the API's limit), and
// the size a full run measures.
const MaxBulkSize = 100

// bulkParallelism is how many restarts of one bulk call the API runs at once (the
// server package's bulkParallelism); the bulk floor runs its batch the same way.
const bulkParallelism = 8

// The dashboard call measured: the Finished section's first page of 50, as the
// dashboard benchmarks in server/ measure it.
const (
	dashboardSection = domain.SectionFinished
	dashboardLimit   = 50
)

// benchMailRate is the bench processes' MAIL_RATE_PER_MINUTE: high enough that the
// email pace never binds, so the email row measures the engine's path from the answer
// to the delivery, as its floor does. The pace itself is measured by
// scripts/email-drain.sh.
const benchMailRate = 100000

// Config sizes a run. Each floor makes as many calls as the retryd path it stands under.
type Config struct {
	Gives            int           // sequential give-retries, and the sequential floors' calls
	ConcurrentGives  int           // give-retries made Concurrency at a time; their emails are the drain
	Concurrency      int           // admins at once in the concurrent gives
	Starts           int           // member starts (at most Gives: they start the given retries)
	Restarts         int           // single restarts, one at a time
	BulkCalls        int           // bulk restarts of BulkSize members, one call at a time
	BulkSize         int           // members per bulk call, and per bulk floor batch
	DashboardMembers int           // members of the organization whose pages are read
	DetailMembers    int           // distinct members whose detail is read, in turn
	PageCalls        int           // calls per page measurement, through HTTP and through pgx each
	PageClients      int           // connections at once for the pages, HTTP and pgx alike
	WebhookSeq       int           // webhook events sent one at a time, each once the last arrived
	WebhookBurst     int           // webhook events in the delivery burst, retryd's and the floor's
	EmailTimeout     time.Duration // longest wait for the gives' emails, and for each set of webhook deliveries
	IdleWindow       time.Duration // how long the processes' idle CPU is measured first
	Quick            bool          // a smoke run: tiny counts, figures not meant as measurements
}

// DefaultConfig is the full run whose figures docs/benchmarks.md keeps.
func DefaultConfig() Config {
	return Config{Gives: 300, ConcurrentGives: 320, Concurrency: 16, Starts: 100, Restarts: 100, BulkCalls: 5, BulkSize: MaxBulkSize,
		DashboardMembers: 10000, DetailMembers: 100, PageCalls: 3200, PageClients: 32, WebhookSeq: 50, WebhookBurst: 200, EmailTimeout: 5 * time.Minute, IdleWindow: 10 * time.Second}
}

// QuickConfig runs every path a few times: enough to show the command works end to end.
func QuickConfig() Config {
	return Config{Gives: 3, ConcurrentGives: 16, Concurrency: 16, Starts: 2, Restarts: 2, BulkCalls: 1, BulkSize: 10,
		DashboardMembers: 200, DetailMembers: 5, PageCalls: 64, PageClients: 32, WebhookSeq: 2, WebhookBurst: 10, EmailTimeout: 2 * time.Minute, IdleWindow: time.Second, Quick: true}
}

// Validate refuses counts that would leave a row empty or overflow the mailbox.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"gives", c.Gives}, {"concurrent-gives", c.ConcurrentGives}, {"concurrency", c.Concurrency}, {"starts", c.Starts},
		{"restarts", c.Restarts}, {"bulk-calls", c.BulkCalls}, {"dashboard-members", c.DashboardMembers},
		{"detail-members", c.DetailMembers}, {"page-calls", c.PageCalls}, {"page-clients", c.PageClients}, {"webhook-seq", c.WebhookSeq}, {"webhook-burst", c.WebhookBurst}} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s must be at least 1", f.name))
		}
	}
	if c.BulkSize < 1 || c.BulkSize > MaxBulkSize {
		errs = append(errs, fmt.Errorf("bulk-size must be from 1 to %d", MaxBulkSize))
	}
	if c.Starts > c.Gives {
		errs = append(errs, errors.New("starts must be at most gives: a start starts a given retry"))
	}
	if c.DetailMembers > c.DashboardMembers {
		errs = append(errs, errors.New("detail-members must be at most dashboard-members"))
	}
	// The drain is read from the local mailbox, which keeps the newest messages only.
	if c.ConcurrentGives > devmailbox.DefaultCapacity {
		errs = append(errs, fmt.Errorf("concurrent-gives must be at most %d (the local mailbox's capacity)", devmailbox.DefaultCapacity))
	}
	if c.IdleWindow <= 0 {
		errs = append(errs, errors.New("idle-window must be positive"))
	}
	if c.EmailTimeout <= 0 {
		errs = append(errs, errors.New("email-timeout must be positive"))
	}
	return errors.Join(errs...)
}
