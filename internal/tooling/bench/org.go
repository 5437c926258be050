package bench

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/random"
)

// member is what the calls need to know about a seeded member.
type member struct {
	ID, ShootID, Email string
}

// orgs are the benchmark's two organizations: one whose members are given retries and
// restarted, and one of Config.DashboardMembers members whose pages are read, so the
// writes of the first never change the pages measured in the second.
type orgs struct {
	file          *seed.File
	adminKey      string // the first organization's admin
	automationKey string // the first organization's automation client (bulk restarts)
	givesSeq      []member
	givesConc     []member
	givesHook     []member // given with a webhook endpoint subscribed to retry.issued
	writesOrgID   string
	restarts      []member
	bulk          [][]member
	pagesOrgID    string
	pagesKey      string // the second organization's admin
	details       []string
}

func newOrgs(cfg Config, now time.Time) *orgs {
	o := &orgs{adminKey: "rk_bench_admin_" + random.Hex(16), automationKey: "rk_bench_auto_" + random.Hex(16),
		pagesKey: "rk_bench_pages_" + random.Hex(16), pagesOrgID: uuid.NewString()}
	completed := now.Add(-72 * time.Hour).UTC().Truncate(time.Second)
	deleted := now.Add(-24 * time.Hour).UTC().Truncate(time.Second)

	work := seed.Organization{ID: uuid.NewString(), Name: "Bench Writes", CreditBalance: 100000,
		Admins:         []seed.Admin{{Email: "lead@writes.bench.test", Name: "Lead", Role: "owner", APIKey: o.adminKey}},
		AutomationKeys: []string{o.automationKey}}
	n := 0
	add := func(kind string) member {
		m := member{ID: uuid.NewString(), ShootID: uuid.NewString(), Email: fmt.Sprintf("m%06d@writes.bench.test", n)}
		n++
		s := seed.Shoot{ID: m.ShootID, Status: domain.ShootActive, CompletedAt: &completed, Results: 8}
		if kind == domain.KindManaged {
			s = seed.Shoot{ID: m.ShootID, Status: domain.ShootDeleted, CompletedAt: &completed, DeletedAt: &deleted}
		}
		work.Members = append(work.Members, seed.Member{ID: m.ID, Name: fmt.Sprintf("Member %06d", n), Email: &m.Email,
			Kind: kind, Shoots: []seed.Shoot{s}})
		return m
	}
	for range cfg.Gives {
		o.givesSeq = append(o.givesSeq, add(domain.KindIndividual))
	}
	for range cfg.ConcurrentGives {
		o.givesConc = append(o.givesConc, add(domain.KindIndividual))
	}
	for range cfg.Gives {
		o.givesHook = append(o.givesHook, add(domain.KindIndividual))
	}
	o.writesOrgID = work.ID
	for range cfg.Restarts {
		o.restarts = append(o.restarts, add(domain.KindManaged))
	}
	for range cfg.BulkCalls {
		var call []member
		for range cfg.BulkSize {
			call = append(call, add(domain.KindManaged))
		}
		o.bulk = append(o.bulk, call)
	}

	// The pages' organization is shaped like the dashboard benchmarks' (server/
	// dashboard_bench_test.go): 90% finished, 9% in progress, 1% deleted, one result per
	// finished shoot.
	pages := seed.Organization{ID: o.pagesOrgID, Name: "Bench Pages", CreditBalance: 1000,
		Admins: []seed.Admin{{Email: "lead@pages.bench.test", Name: "Lead", Role: "owner", APIKey: o.pagesKey}}}
	for i := range cfg.DashboardMembers {
		s := seed.Shoot{Status: domain.ShootActive, CompletedAt: &completed, Results: 1}
		switch {
		case i%100 == 0:
			s = seed.Shoot{Status: domain.ShootDeleted, CompletedAt: &completed, DeletedAt: &deleted}
		case i%10 == 0:
			s = seed.Shoot{Status: domain.ShootWaiting}
		}
		id := uuid.NewString()
		email := fmt.Sprintf("p%06d@pages.bench.test", i)
		pages.Members = append(pages.Members, seed.Member{ID: id, Name: fmt.Sprintf("Member %06d", i), Email: &email,
			Kind: domain.KindManaged, Shoots: []seed.Shoot{s}})
		if len(o.details) < cfg.DetailMembers {
			o.details = append(o.details, id)
		}
	}
	o.file = &seed.File{Organizations: []seed.Organization{work, pages}}
	return o
}
