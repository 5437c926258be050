package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// bulkLine is one member's result in a bulk restart answer.
type bulkLine struct {
	MemberID string  `json:"member_id"`
	Outcome  string  `json:"outcome"`
	Code     *string `json:"code"`
	Restart  *struct {
		ID         string    `json:"id"`
		AccessLink *string   `json:"access_link"`
		IssuedAt   time.Time `json:"issued_at"`
	} `json:"restart"`
}

func bulkLines(body []byte) []bulkLine {
	var b struct {
		Results []bulkLine `json:"results"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Results
}

// bulkHasError tells whether a bulk answer left a member with a server-side error: the
// API does not keep such an answer, and the same key restarts that member when sent again.
func bulkHasError(body []byte) bool {
	for _, l := range bulkLines(body) {
		if l.Outcome == "error" {
			return true
		}
	}
	return false
}

// answerOf is what an answer says, to compare two answers to one Idempotency-Key: its
// status, problem code and the id it names; for a bulk restart, each member's outcome,
// code and restart id. Access links are signed afresh on every answer and left out.
func answerOf(kind OpKind, status int, code string, body []byte) string {
	if kind != OpBulkRestart || status != http.StatusOK {
		return strings.TrimSpace(fmt.Sprintf("%d %s%s", status, code, answerID(body)))
	}
	var parts []string
	for _, l := range bulkLines(body) {
		p := l.MemberID + " " + l.Outcome
		if l.Code != nil {
			p += " " + *l.Code
		}
		if l.Restart != nil {
			p += " " + l.Restart.ID
		}
		parts = append(parts, p)
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d [%s]", status, strings.Join(parts, "; "))
}

// answerID is the id of the retry or restart an answer names.
func answerID(body []byte) string {
	var r struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &r) != nil || r.ID == "" {
		return ""
	}
	return " " + r.ID
}

// checkStoredAnswers reads the answer the API keeps under each Idempotency-Key of the
// workload, the one every later request with the key is given: for a key whose retry or
// restart exists it must not be a refusal, or a replay refuses what the key did. The
// workload sends one key per give and per restart of a member, so a member's retry or
// restart was made by the key that asked for it.
func checkStoredAnswers(ctx context.Context, db bun.IDB, run *Run, retriesByMember, restartsByMember map[string][]string,
	add func(inv, subject, format string, args ...any)) error {
	type asked struct {
		kind    OpKind
		members []string
	}
	keys := map[string]asked{}
	for _, o := range run.Outcomes {
		if o.Key != "" {
			keys[o.Key] = asked{o.Kind, o.Members}
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT key, status_code, response FROM idempotency_keys WHERE status_code IS NOT NULL`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var status int
		var body []byte
		if err := rows.Scan(&key, &status, &body); err != nil {
			return err
		}
		a, ok := keys[key]
		if !ok {
			continue
		}
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(body, &p)
		switch a.kind {
		case OpGive:
			if ids := retriesByMember[a.members[0]]; status >= 400 && len(ids) > 0 {
				add(InvStoredAnswer, "key "+key, "stores %d %s; the retry it gave exists: %v", status, p.Code, ids)
			}
		case OpRestart:
			if ids := restartsByMember[a.members[0]]; status >= 400 && len(ids) > 0 {
				add(InvStoredAnswer, "key "+key, "stores %d %s; the restart it made exists: %v", status, p.Code, ids)
			}
		case OpBulkRestart:
			for _, l := range bulkLines(body) {
				if ids := restartsByMember[l.MemberID]; l.Outcome != "restarted" && len(ids) > 0 {
					code := ""
					if l.Code != nil {
						code = *l.Code
					}
					add(InvStoredAnswer, "key "+key, "stores member %s %s %s; the restart it made exists: %v", l.MemberID, l.Outcome, code, ids)
				}
			}
		}
	}
	return rows.Err()
}
