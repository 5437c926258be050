package worker_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/workflows"
)

// Environment of the footprint measurement (scripts/pending-retries.sh).
const (
	envPendingRetries = "RETRYD_PENDING_RETRIES"    // how many pending retries to hold
	envPendingCache   = "RETRYD_PENDING_CACHE_SIZE" // WORKER_CACHE_SIZE of the worker measured
	envPendingSample  = "RETRYD_PENDING_SAMPLE"     // how long to sample the idle worker
	envPendingCheck   = "RETRYD_PENDING_CHECK"      // the retries' start check (default the API's 1h)
	envPendingQueries = "RETRYD_PENDING_QUERIES"    // status queries a second in a last sample
	envPendingMemory  = "RETRYD_PENDING_GOMEMLIMIT" // the worker's GOMEMLIMIT (Go's soft memory limit)
)

// clockTicks is the kernel's USER_HZ, the unit of utime and stime in /proc/<pid>/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// TestPendingRetriesFootprint measures one `retryd work` process holding many pending
// retries: it seeds members with finished shoots, builds and starts the retryd binary as
// a separate process, gives every member a retry the way the API does (Update-with-Start
// through package launch, the API's own default reminders and check interval), waits
// until each retry is pending with its first email sent, then samples the worker's
// VmRSS and CPU time from /proc while it waits. It runs only when asked
// (RETRYD_PENDING_RETRIES), because a measurement of 10,000 takes minutes; it asserts
// that every retry became pending and reports the figures.
func TestPendingRetriesFootprint(t *testing.T) {
	nStr := os.Getenv(envPendingRetries)
	if nStr == "" {
		t.Skip("a measurement: set " + envPendingRetries + " (scripts/pending-retries.sh)")
	}
	n := atoi(t, nStr)
	cache := os.Getenv(envPendingCache)
	sample := time.Minute
	if v := os.Getenv(envPendingSample); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		sample = d
	}
	check := time.Hour
	if v := os.Getenv(envPendingCheck); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		check = d
	}
	db, dbURL := testenv.Database(t)
	srv := testenv.Temporal(t)

	// The local MailerSend endpoint the worker sends to; it keeps the newest thousand.
	mb := devmailbox.New(0)
	mail := httptest.NewServer(mb.Handler())
	t.Cleanup(mail.Close)

	orgID, adminID := uuid.NewString(), uuid.NewString()
	members := make([]seed.Member, n)
	for i := range members {
		members[i] = seed.Member{ID: uuid.NewString(), Name: fmt.Sprintf("Pending %d", i), Email: apptest.Ptr(fmt.Sprintf("pending-%d@acme.test", i)), Kind: "individual",
			Shoots: []seed.Shoot{{ID: uuid.NewString(), Status: "active", CompletedAt: apptest.Ptr(time.Now().Add(-72 * time.Hour)), Results: 1}}}
	}
	// Seeding and the build are bounded; giving n retries takes as long as it takes.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	if _, err := seed.Load(ctx, db, &seed.File{Organizations: []seed.Organization{{
		ID: orgID, Name: "Pending org", CreditBalance: n,
		Admins:  []seed.Admin{{ID: adminID, Email: "lead@acme.test", Name: "Lee", Role: "owner", APIKey: "rk_test_admin_" + strings.ReplaceAll(uuid.NewString(), "-", "")}},
		Members: members,
	}}}); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(t.TempDir(), "retryd")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/retryd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	queue := "pending-" + uuid.NewString()[:8]
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + dbURL, "TEMPORAL_ADDRESS=" + srv.Address, "TEMPORAL_NAMESPACE=" + srv.Namespace,
		"TEMPORAL_TASK_QUEUE=" + queue, "LINK_SECRET=" + strings.Repeat("k", 32),
		// Any free port: an empty value means the default 127.0.0.1:9090, which another
		// worker may hold. The token is what work with the mailbox requires outside dev.
		"DEV_MAILBOX=on", "DEV_MAILBOX_TOKEN=" + strings.Repeat("t", 16), "MAILERSEND_LOCAL_URL=" + mail.URL,
		"WORKER_METRICS_ADDR=127.0.0.1:0", "LOG_LEVEL=warn",
		// The first emails of all n retries go out while they are created; the measurement
		// is of the wait that follows, so creation is not held to the production pace.
		"MAIL_RATE_PER_MINUTE=100000",
	}
	if cache != "" {
		env = append(env, "WORKER_CACHE_SIZE="+cache)
	}
	memLimit := os.Getenv(envPendingMemory)
	if memLimit != "" {
		env = append(env, "GOMEMLIMIT="+memLimit)
	}
	var logs bytes.Buffer
	w := exec.Command(bin, "work")
	w.Env, w.Stdout, w.Stderr = env, &logs, &logs
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	// The gives and waits below end as soon as the worker exits, rather than time out.
	live, dead := context.WithCancelCause(t.Context())
	exited := make(chan struct{})
	go func() {
		err := w.Wait()
		dead(fmt.Errorf("retryd work exited: %v", err))
		close(exited)
	}()
	t.Cleanup(func() {
		_ = w.Process.Signal(os.Interrupt)
		<-exited
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})

	// The API's defaults: reminders after 3 and 7 days, a start check every hour (a shorter
	// check, RETRYD_PENDING_CHECK, makes the retries wake often enough to sample their cost).
	tc, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	l := workflows.NewClient(tc, queue, 2*time.Minute)
	reminders := []time.Duration{72 * time.Hour, 168 * time.Hour}
	start := time.Now()
	work := make(chan seed.Member)
	var failed atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for m := range work {
				if _, err := l.Retry(live, workflows.RetryInput{RetryID: uuid.NewString(), OrgID: orgID, MemberID: m.ID, ShootID: m.Shoots[0].ID,
					Issue: workflows.Issue{IssuedByKind: "admin", IssuedBy: adminID, Reminders: reminders, Tuning: workflows.Tuning{StartCheck: check}}}, "pending-"+m.ID); err != nil && failed.Add(1) <= 3 {
					t.Errorf("give %s: %v", m.Name, err)
				}
			}
		})
	}
	for _, m := range members {
		work <- m
	}
	close(work)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d gives failed (%v)", failed.Load(), context.Cause(live))
	}
	apptest.WaitFor(t, 30*time.Minute, "every first email sent", func() bool {
		var sent int
		if live.Err() != nil {
			t.Fatal(context.Cause(live))
		}
		err := db.NewRaw(`SELECT count(*) FROM emails WHERE status = 'sent'`).Scan(t.Context(), &sent)
		return err == nil && sent == n
	})
	created := time.Since(start)
	pending, _, err := store.CountPending(t.Context(), db)
	if err != nil || pending != n {
		t.Fatalf("%d retries pending (%v), want %d", pending, err, n)
	}
	rssAfterCreate := rss(t, w.Process.Pid)

	// Let the last tasks settle, then sample the waiting worker.
	time.Sleep(15 * time.Second)
	cpu0, rss0, t0 := cpuTicks(t, w.Process.Pid), rss(t, w.Process.Pid), time.Now()
	peak := rss0
	for time.Since(t0) < sample {
		time.Sleep(5 * time.Second)
		peak = max(peak, rss(t, w.Process.Pid))
	}
	cpu1, rss1, elapsed := cpuTicks(t, w.Process.Pid), rss(t, w.Process.Pid), time.Since(t0)
	cpuPct := float64(cpu1-cpu0) / clockTicks / elapsed.Seconds() * 100
	t.Logf("pending=%d cache=%q GOMEMLIMIT=%q check=%s: created in %s (%.0f/s); RSS after creation %d MiB; idle over %s: RSS %d→%d MiB (peak %d), CPU %.2f%% of a core",
		n, cache, memLimit, check, created.Round(time.Second), float64(n)/created.Seconds(), rssAfterCreate>>10, elapsed.Round(time.Second), rss0>>10, rss1>>10, peak>>10, cpuPct)

	// What a run that is not cached costs when it wakes: status queries, in the order the
	// retries were created, so each one finds its run evicted (the least recently used) and
	// the worker replays its history to answer. A query replays as a wake does, without
	// the wake's local activity and commands.
	qps := 0
	if v := os.Getenv(envPendingQueries); v != "" {
		qps = atoi(t, v)
	}
	if qps == 0 {
		return
	}
	cpu0, t0 = cpuTicks(t, w.Process.Pid), time.Now()
	tick := time.NewTicker(time.Second / time.Duration(qps))
	defer tick.Stop()
	queried := 0
	for time.Since(t0) < sample {
		<-tick.C
		m := members[queried%n]
		if _, err := tc.QueryWorkflow(t.Context(), workflows.RetryWorkflowID(m.Shoots[0].ID), "", workflows.QueryStatus); err != nil {
			t.Fatalf("query %s: %v", m.Name, err)
		}
		queried++
	}
	cpu1, elapsed = cpuTicks(t, w.Process.Pid), time.Since(t0)
	t.Logf("queries: %d over %s (%.1f/s): CPU %.2f%% of a core, %.2f ms of CPU a query; RSS %d MiB",
		queried, elapsed.Round(time.Second), float64(queried)/elapsed.Seconds(), float64(cpu1-cpu0)/clockTicks/elapsed.Seconds()*100,
		float64(cpu1-cpu0)/clockTicks*1000/float64(queried), rss(t, w.Process.Pid)>>10)
}

// rss is the process's VmRSS in KiB.
func rss(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// cpuTicks is the process's user plus system CPU time, in clock ticks.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name may hold spaces; the fields after its closing parenthesis don't.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	// utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
	utime, err1 := strconv.Atoi(fields[11])
	stime, err2 := strconv.Atoi(fields[12])
	if err1 != nil || err2 != nil {
		t.Fatalf("parse /proc/%d/stat: %q", pid, b)
	}
	return utime + stime
}
