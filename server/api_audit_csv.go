package server

import (
	"database/sql"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

const (
	// auditExportMaxRows bounds one CSV export: a year of a busy organization's events
	// fits in a few ranges, and the export's read transaction stays short.
	auditExportMaxRows = 100000
	// auditExportBatch is how many events one keyset read of the export takes.
	auditExportBatch = 1000
)

var auditCSVHeader = []string{"id", "occurred_at", "action", "actor_kind", "actor_id", "actor_name", "credential_kind",
	"credential_id", "key_id", "target_kind", "target_id", "member_id", "outcome", "request_id"}

// getAuditCSV exports the events the listing's filters select, newest first, as RFC 4180
// CSV. It counts them first and refuses more than auditExportMaxRows before writing
// anything; then it streams them in keyset batches. Count and batches read one snapshot
// (a read-only repeatable-read transaction), so the file holds exactly what was counted.
func (s *Server) getAuditCSV(c *gin.Context) {
	q, err := parseAuditFilters(principal(c).OrgID, c.Request.URL.Query())
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		s.fail(c, err)
		return
	}
	defer func() { _ = tx.Rollback() }()
	n, err := store.CountAuditEvents(ctx, tx, q, auditExportMaxRows)
	if err != nil {
		s.fail(c, err)
		return
	}
	if n > auditExportMaxRows {
		s.abort(c, problem.ExportTooLarge, "the export would hold more than %d events; choose a shorter time range with since and until", auditExportMaxRows)
		return
	}
	names, err := auditNames(ctx, tx, q.OrgID, nil)
	if err != nil {
		s.fail(c, err)
		return
	}
	q.Limit = auditExportBatch
	batch, more, err := store.ListAuditEvents(ctx, tx, q)
	if err != nil {
		s.fail(c, err)
		return
	}

	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+auditCSVName(q)+`"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	w.UseCRLF = true
	_ = w.Write(auditCSVHeader)
	for {
		if err := s.writeAuditRows(c, tx, names, q.OrgID, w, batch); err != nil {
			s.abortStream(c, err)
			return
		}
		if !more {
			break
		}
		last := batch[len(batch)-1]
		q.After = &store.AuditCursor{At: last.CreatedAt, ID: last.ID}
		if batch, more, err = store.ListAuditEvents(ctx, tx, q); err != nil {
			s.abortStream(c, err)
			return
		}
	}
}

// writeAuditRows writes one batch, naming the members who acted in it.
func (s *Server) writeAuditRows(c *gin.Context, db bun.IDB, names *auditNameBook, orgID string, w *csv.Writer, batch []store.AuditEvent) error {
	var memberIDs []string
	for _, e := range batch {
		if e.ActorKind == store.ActorMember {
			memberIDs = append(memberIDs, e.ActorID)
		}
	}
	members, err := store.MemberNames(c.Request.Context(), db, orgID, memberIDs)
	if err != nil {
		return err
	}
	names.members = members
	for i := range batch {
		e := &batch[i]
		row := []string{strconv.FormatInt(e.ID, 10), e.CreatedAt.UTC().Format(time.RFC3339Nano), e.Action,
			e.ActorKind, e.ActorID, names.actorName(e.ActorKind, e.ActorID), e.CredentialKind, e.CredentialID, e.KeyID,
			e.TargetKind, e.TargetID, e.MemberID, e.Outcome, e.RequestID}
		for j := range row {
			row[j] = spreadsheetSafe(row[j])
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// abortStream ends an export that failed after its first bytes were sent. The status is
// gone, so the connection is closed without the end of the chunked body: the client
// sees a failed download rather than a file silently cut short. Gin refuses to hijack
// once a body was written, so the server's own writer, under every wrapper, is asked. (Over HTTP/2, which
// cannot be hijacked, the file does end short; the error is logged either way.)
func (s *Server) abortStream(c *gin.Context, err error) {
	s.log.ErrorContext(c.Request.Context(), "audit export failed while streaming", "request_id", requestID(c), "error", err)
	c.Abort()
	var w http.ResponseWriter = c.Writer
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	if conn, _, herr := http.NewResponseController(w).Hijack(); herr == nil {
		_ = conn.Close()
	}
}

// spreadsheetSafe keeps a cell from being run as a formula when the file is opened in a
// spreadsheet (CSV injection): a cell starting with = + - @, a tab or a carriage return
// is prefixed with a single quote, which spreadsheets show as text.
func spreadsheetSafe(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + v
	}
	return v
}

// auditCSVName names the download after its range: audit-2026-12-01-to-2026-12-08.csv.
func auditCSVName(q store.AuditQuery) string {
	day := func(t *time.Time, none string) string {
		if t == nil {
			return none
		}
		return t.UTC().Format("2006-01-02")
	}
	return fmt.Sprintf("audit-%s-to-%s.csv", day(q.Since, "start"), day(q.Until, "now"))
}
