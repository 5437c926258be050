package faults

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Summary is the report in a few lines, for test logs.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: operations %d (%s), HTTP attempts %d, faults injected %d (%s)\n",
		r.Run.Plan.Name, r.totalOps(), r.opsList(), r.Attempts, r.totalFaults(), r.faultsList())
	fmt.Fprintf(&b, "answered 201/restarted %d, lost %d, doubled %d, never final %d, duplicate emails %d (the faults explain %d), first emails failed for good %d, unverifiable %d\n",
		r.Answered201, r.Lost, r.Doubled, r.NeverFinal, r.DuplicateEmails, r.AllowedDuplicates, r.EmailsFailed, r.Unverifiable)
	fmt.Fprintf(&b, "history after %d resends: %d events (bound %d; quiet pending retry: %d)\n", r.Run.Plan.ResendStorm, r.StormHistory, r.HistoryBound, r.BaseHistory)
	fmt.Fprintf(&b, "webhooks: %d events, %d deliveries, %d attempts recorded (most %d), %d requests received, %d accepted again, %d cut off; %d of %d worker kills with an attempt in flight\n",
		r.WebhookEvents, r.WebhookDeliveries, r.WebhookAttempts, r.WebhookMaxAttempts, r.WebhookRequests, r.WebhookDuplicates, r.WebhookCut, r.WorkerKillsMidDelivery, r.WorkerKills)
	if len(r.Refused) > 0 {
		fmt.Fprintf(&b, "final refusals: %v\n", r.Refused)
	}
	if r.Recovered {
		// The quiet is looked for once the load ended, which may come after the last fault.
		var tail time.Duration
		if !r.Run.LastFault.IsZero() {
			tail = max(r.Run.LoadEnded.Sub(r.Run.LastFault), 0)
		}
		fmt.Fprintf(&b, "recovered %s after the last fault (the load ended %s after it)\n", r.Recovery.Round(time.Second), tail.Round(time.Second))
	} else {
		fmt.Fprintf(&b, "NOT settled within %s after the last fault\n", r.Run.Plan.Recovery)
	}
	for inv, n := range r.sortedInvariants() {
		fmt.Fprintf(&b, "violated %s: %d\n", inv, n)
	}
	return b.String()
}

func (r *Report) totalOps() int {
	n := 0
	for _, v := range r.Operations {
		n += v
	}
	return n
}

func (r *Report) totalFaults() int {
	n := 0
	for _, v := range r.FaultsInjected {
		n += v
	}
	return n
}

func (r *Report) opsList() string {
	var parts []string
	for _, k := range []OpKind{OpGive, OpRestart, OpBulkRestart, OpStart, OpResend} {
		parts = append(parts, fmt.Sprintf("%s %d", k, r.Operations[k]))
	}
	return strings.Join(parts, ", ")
}

func (r *Report) faultsList() string {
	var parts []string
	for _, k := range []FaultKind{KillWorker, KillAPI, KillTemporal, RestartPostgres, PausePostgres, MailFault} {
		if n := r.FaultsInjected[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	return strings.Join(parts, ", ")
}

// sortedInvariants iterates violated invariants by name.
func (r *Report) sortedInvariants() func(yield func(string, int) bool) {
	by := r.ByInvariant()
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Strings(names)
	return func(yield func(string, int) bool) {
		for _, k := range names {
			if !yield(k, by[k]) {
				return
			}
		}
	}
}

// WriteMarkdown writes the report for docs/reliability.md.
func (r *Report) WriteMarkdown(w io.Writer, command string, took time.Duration) {
	run := r.Run
	fmt.Fprintf(w, "## %s\n\n", run.Plan.Name)
	fmt.Fprintf(w, "Command: `%s`; took %s (run began %s).\n\n", command, took.Round(time.Second), run.Began.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "| figure | value |\n|---|---|\n")
	fmt.Fprintf(w, "| operations attempted | %d (%s) |\n", r.totalOps(), r.opsList())
	fmt.Fprintf(w, "| HTTP attempts (5xx retried with the same key) | %d |\n", r.Attempts)
	fmt.Fprintf(w, "| faults injected | %d (%s) |\n", r.totalFaults(), r.faultsList())
	fmt.Fprintf(w, "| retries and restarts answered 201 / restarted | %d |\n", r.Answered201)
	fmt.Fprintf(w, "| lost (answered, not recorded) | %d |\n", r.Lost)
	fmt.Fprintf(w, "| doubled (two retries or restarts for one) | %d |\n", r.Doubled)
	fmt.Fprintf(w, "| requests without a final answer by their %s deadline | %d |\n", run.Plan.RequestDeadline, r.NeverFinal)
	fmt.Fprintf(w, "| duplicate emails / what the faults injected explain | %d / %d |\n", r.DuplicateEmails, r.AllowedDuplicates)
	fmt.Fprintf(w, "| pending retries whose first email failed for good (422, resendable) | %d |\n", r.EmailsFailed)
	fmt.Fprintf(w, "| final refusals (kind status code: count) | %v |\n", r.Refused)
	fmt.Fprintf(w, "| sent emails unverifiable (mailbox emptied by an API kill) | %d |\n", r.Unverifiable)
	if r.Recovered {
		fmt.Fprintf(w, "| time to recover (last fault to quiet) | %s |\n", r.Recovery.Round(time.Second))
	} else {
		fmt.Fprintf(w, "| time to recover | not settled within %s |\n", run.Plan.Recovery)
	}
	fmt.Fprintf(w, "| history of the retry after a storm of %d resends / its bound / a quiet pending retry's (events) | %d / %d / %d |\n", run.Plan.ResendStorm, r.StormHistory, r.HistoryBound, r.BaseHistory)
	fmt.Fprintf(w, "| processes revived after exiting on their own (supervisor) | api %d, worker %d |\n", run.Revived["api"], run.Revived["worker"])
	fmt.Fprintf(w, "| webhook events / deliveries (an event to one endpoint) | %d / %d |\n", r.WebhookEvents, r.WebhookDeliveries)
	fmt.Fprintf(w, "| webhook attempts recorded / most for one delivery / requests the receivers got | %d / %d / %d |\n", r.WebhookAttempts, r.WebhookMaxAttempts, r.WebhookRequests)
	fmt.Fprintf(w, "| webhook events accepted more than once by one endpoint (at least once) / requests cut off by a kill or timeout | %d / %d |\n", r.WebhookDuplicates, r.WebhookCut)
	fmt.Fprintf(w, "| worker kills with a webhook attempt in flight | %d of %d |\n", r.WorkerKillsMidDelivery, r.WorkerKills)
	fmt.Fprintf(w, "\nFaults as injected (offset from the start of the run):\n\n")
	faults := append([]FaultRecord(nil), run.Faults...)
	sort.Slice(faults, func(i, j int) bool { return faults[i].Started.Before(faults[j].Started) })
	var workerKills []string
	for _, f := range faults {
		at := f.Started.Sub(run.Began).Round(time.Second)
		errText := ""
		if f.Err != "" {
			errText = " — FAILED: " + firstLine(f.Err)
		}
		switch {
		case f.Kind == KillWorker && errText == "":
			// Dozens of them: one line.
			mark := ""
			if f.WebhooksInFlight > 0 {
				mark = "*"
			}
			workerKills = append(workerKills, at.String()+mark)
			continue
		case f.Kind == MailFault:
			fmt.Fprintf(w, "- %s: %s: status %d, retry_after_s %d, delay_ms %d, count %d%s\n", at, f.Kind, f.Mail.Status, f.Mail.RetryAfterS, f.Mail.DelayMS, f.Mail.Count, errText)
		default:
			fmt.Fprintf(w, "- %s: %s, down for %s%s\n", at, f.Kind, f.Down, errText)
		}
	}
	if len(workerKills) > 0 {
		fmt.Fprintf(w, "- %s, down for 1s each, %d times: at %s (*: a webhook delivery attempt in flight)\n", KillWorker, len(workerKills), strings.Join(workerKills, ", "))
	}
	if len(r.Violations) == 0 {
		fmt.Fprintf(w, "\nEvery invariant held.\n\n")
		return
	}
	fmt.Fprintf(w, "\nViolated invariants:\n\n| invariant | count |\n|---|---|\n")
	for inv, n := range r.sortedInvariants() {
		fmt.Fprintf(w, "| `%s` | %d |\n", inv, n)
	}
	fmt.Fprintf(w, "\nEach violation:\n\n")
	for _, v := range r.Violations {
		fmt.Fprintf(w, "- `%s` %s: %s\n", v.Invariant, v.Subject, v.Detail)
	}
	fmt.Fprintln(w)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
