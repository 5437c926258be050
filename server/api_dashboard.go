package server

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/rules"
	"github.com/headshotpro/retryd/internal/store"
)

// cardDTO declares a dashboard card as the API writes it. appendCard writes it by hand
// and openapi.json's Card schema describes it; tests hold both to these types
// (dashboard_json_test.go, card_schema_test.go).
type cardDTO struct {
	Member  memberDTO    `json:"member"`
	Shoot   shootDTO     `json:"shoot"`
	Retry   cardRetryDTO `json:"retry"`
	Actions []string     `json:"actions"`
	Section string       `json:"section"`
}

type cardRetryDTO struct {
	RetriesRemaining int  `json:"retries_remaining"`
	Pending          bool `json:"pending"`
}

type sectionDTO struct {
	Section    string    `json:"section,omitempty"`
	Cards      []cardDTO `json:"cards"`
	NextCursor *string   `json:"next_cursor"`
	// PrevCursor, passed as before, pages back; null on the first page.
	PrevCursor *string `json:"prev_cursor"`
}

// sections are the dashboard's sections, the names the API and dashboard_cards share.
var sections = map[string]bool{domain.SectionFinished: true, domain.SectionInProgress: true, domain.SectionDeleted: true}

var sectionOrder = []string{domain.SectionFinished, domain.SectionInProgress, domain.SectionDeleted}

// sectionNames are the sections in the order a JSON object of them is written: sorted,
// as encoding/json writes a map's keys.
var sectionNames = []string{domain.SectionDeleted, domain.SectionFinished, domain.SectionInProgress}

const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxSearchLen    = 200
)

func (s *Server) getOrganization(c *gin.Context) {
	sum, err := store.GetOrgSummary(c.Request.Context(), s.db, principal(c).OrgID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{
		"id": sum.ID, "name": sum.Name, "credit_balance": sum.CreditBalance,
		"members": sum.Members, "finished_shoots": sum.FinishedShoots,
	})
}

// getHeadshots is the dashboard: one section page, or the first page of each section.
func (s *Server) getHeadshots(c *gin.Context) {
	section := c.Query("section")
	limit := defaultPageSize
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.abort(c, problem.InvalidParameter, "limit must be a whole number from 1 to %d", maxPageSize)
			return
		}
		limit = min(n, maxPageSize)
	}
	search := c.Query("q")
	if !validText(search) {
		s.abort(c, problem.InvalidParameter, "q must be UTF-8 text without NUL characters")
		return
	}
	if utf8.RuneCountInString(search) > maxSearchLen {
		s.abort(c, problem.InvalidParameter, "q must be at most %d characters", maxSearchLen)
		return
	}
	after, before, err := pageCursors(c.Query("cursor"), c.Query("before"))
	if err != nil {
		s.abort(c, problem.InvalidParameter, "%s", err.Error())
		return
	}
	if (after != nil || before != nil) && section == "" {
		s.abort(c, problem.InvalidParameter, "cursor and before need section")
		return
	}
	// One instant for the whole answer, so every card judges the retry window alike.
	now := s.now()
	if section == "" {
		out := map[string]sectionDTO{}
		for _, sec := range sectionOrder {
			page, err := s.sectionPage(c, now, sec, search, nil, nil, limit)
			if err != nil {
				s.fail(c, err)
				return
			}
			page.Section = ""
			out[sec] = page
		}
		s.writeJSON(c, func(b []byte) []byte { return appendSections(b, sectionNames, out) })
		return
	}
	if !sections[section] {
		s.abort(c, problem.InvalidParameter, "section must be finished, in_progress or deleted")
		return
	}
	page, err := s.sectionPage(c, now, section, search, after, before, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.writeJSON(c, func(b []byte) []byte { return appendSection(b, &page) })
}

// writeJSON answers 200 with the JSON document appendDoc writes, as c.JSON would send it,
// in a buffer reused across requests.
func (s *Server) writeJSON(c *gin.Context, appendDoc func([]byte) []byte) {
	buf, _ := s.pageBufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	*buf = appendDoc((*buf)[:0])
	// A known length spares the response net/http's chunked encoding.
	c.Header("Content-Length", strconv.Itoa(len(*buf)))
	c.Data(http.StatusOK, "application/json; charset=utf-8", *buf)
	// A rare huge page is not kept: the pool would hold its memory indefinitely.
	if cap(*buf) <= maxPooledPage {
		s.pageBufs.Put(buf)
	}
}

// maxPooledPage is the largest buffer writeJSON keeps: a full page of 100 cards with long
// names fits.
const maxPooledPage = 256 << 10

// errCursor and errBothCursors are the refusals of a page position, in the API's words.
var (
	errCursor      = errors.New("cursor is not valid; use next_cursor or prev_cursor from a previous page")
	errBothCursors = errors.New("give cursor or before, not both")
)

// pageCursors reads a section page's position: cursor pages forward from a next_cursor,
// before pages back from a prev_cursor. Both are the same encoding, so a cursor kept
// from before paging back existed still works.
func pageCursors(cursor, before string) (after, bef *store.Cursor, err error) {
	if cursor != "" && before != "" {
		return nil, nil, errBothCursors
	}
	var ok bool
	if cursor != "" {
		if after, ok = decodeCursor(cursor); !ok {
			return nil, nil, errCursor
		}
	}
	if before != "" {
		if bef, ok = decodeCursor(before); !ok {
			return nil, nil, errCursor
		}
	}
	return after, bef, nil
}

// sectionPage reads one page of a section, its cards' actions decided at now: the first,
// the one after a cursor, or the one before it. next_cursor is the last card when more
// follow (or, paging back, always: the page came from there); prev_cursor is the first
// card when cards precede it.
func (s *Server) sectionPage(c *gin.Context, now time.Time, section, search string, after, before *store.Cursor, limit int) (sectionDTO, error) {
	cards, more, err := store.Dashboard(c.Request.Context(), s.db, store.DashboardQuery{
		OrgID: principal(c).OrgID, Section: section, Search: search, After: after, Before: before, Limit: limit,
	})
	if err != nil {
		return sectionDTO{}, err
	}
	page := sectionDTO{Section: section, Cards: make([]cardDTO, 0, len(cards))}
	for i := range cards {
		page.Cards = append(page.Cards, toCard(&cards[i], now, s.cfg.RetryWindow))
	}
	if len(cards) == 0 {
		return page, nil
	}
	first, last := cards[0], cards[len(cards)-1]
	back := before != nil
	if (back && more) || (!back && after != nil) {
		cur := encodeCursor(store.Cursor{Name: first.Name, ID: first.MemberID})
		page.PrevCursor = &cur
	}
	if back || more {
		cur := encodeCursor(store.Cursor{Name: last.Name, ID: last.MemberID})
		page.NextCursor = &cur
	}
	return page, nil
}

// toCard writes a dashboard card; rules.CardActions decides its actions, for this
// answer and the admin pages' card alike. now and window are the retry window's, so a
// card offers no retry that the window would refuse.
func toCard(k *store.Card, now time.Time, window time.Duration) cardDTO {
	m := store.Member{ID: k.MemberID, Name: k.Name, Email: k.Email, Kind: k.Kind, RetryCredits: k.RetryCredits, FreeRetryAvailable: k.FreeRetryAvailable}
	section := rules.Section(k.Status)
	actions := rules.CardActions(rules.CardFacts{
		Section: section, RetryCredits: k.RetryCredits, FreeRetryAvailable: k.FreeRetryAvailable, PendingRetry: k.PendingRetry,
		ShootRetried: k.RetryCount > 0, ShootCompletedAt: k.CompletedAt, Now: now, Window: window,
		Restart: rules.RestartFacts{MemberKind: k.Kind, HasDeletedShoot: k.HasDeletedShoot, HasOtherShoot: k.HasOpenShoot},
	})
	return cardDTO{
		Member: toMember(&m),
		Shoot: shootDTO{ID: k.ShootID, Status: k.Status, CompletedAt: k.CompletedAt, DeletedAt: k.DeletedAt,
			RetryCount: k.RetryCount, ResultCount: k.ResultCount},
		Retry:   cardRetryDTO{RetriesRemaining: m.RetriesRemaining(), Pending: k.PendingRetry},
		Actions: actions,
		Section: section,
	}
}

func encodeCursor(c store.Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(v string) (*store.Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, false
	}
	var c store.Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, false
	}
	// Cursors are made from ids Postgres printed, so anything but that exact spelling is
	// forged; uuid.Parse alone would let urn:uuid: ids through to the query.
	if id, ok := canonicalUUID(c.ID); !ok || id != c.ID || !validText(c.Name) {
		return nil, false
	}
	return &c, true
}
