package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/rules"
	"github.com/headshotpro/retryd/internal/store"
)

// Section titles are the help page's words.
var sectionTitles = map[string]string{
	domain.SectionFinished:   "Finished photo shoots",
	domain.SectionInProgress: "In Progress",
	domain.SectionDeleted:    "Deleted photo shoots",
}

const (
	// overviewPageSize is the cards per section when all three are shown; a section of
	// its own pages by sectionPageSize.
	overviewPageSize = 10
	sectionPageSize  = 25
)

type dashboardView struct {
	Query    string
	Section  string // "" for the overview of all three sections
	Sections []sectionView
	Notice   string
	// Back is this place (search, section, page) as the change forms carry it, so that
	// their answer comes back here (pages_place.go).
	Back string
}

type sectionView struct {
	Key      string
	Title    string
	Count    int
	Cards    []cardView
	NextURL  string // the next page of this section
	PrevURL  string // the previous page of this section
	AllURL   string // this section on its own (overview only)
	FirstURL string // back to the first page (when paging)
	// Changed is the card of the member a change just named, shown above the sections
	// when it is on none of their pages here.
	Changed bool
	// BulkKey is the Idempotency-Key of Restart selected shoots, offered when a card of
	// the section can be restarted (pages_bulk.go).
	BulkKey string
}

type cardView struct {
	cardDTO
	GiveRetry    bool
	RetryURL     string
	RestartShoot bool
	// RetryUntil is the last instant this card's shoot can be retried, shown while the
	// member has a retry to give and the shoot has not had its one; RetryEnded says it
	// has passed.
	RetryUntil *time.Time
	RetryEnded bool
	// IdempotencyKey makes a double-submitted Restart shoot restart once.
	IdempotencyKey string
	// Current marks the card of the member a change just named (aria-current).
	Current bool
}

func (p *pages) getDashboard(c *gin.Context) {
	ctx := c.Request.Context()
	orgID := principal(c).OrgID
	section, q := c.Query("section"), c.Query("q")
	if section != "" {
		if _, ok := sectionTitles[section]; !ok {
			p.renderError(c, http.StatusBadRequest, string(problem.InvalidParameter), "No such section", "The dashboard has the sections Finished photo shoots, In Progress and Deleted photo shoots.")
			return
		}
	}
	if !validText(q) || utf8.RuneCountInString(q) > maxSearchLen {
		p.renderError(c, http.StatusBadRequest, string(problem.InvalidParameter), "Search too long", "Search by a name or an email address of at most 200 characters.")
		return
	}
	var after, before *store.Cursor
	if section != "" {
		var err error
		if after, before, err = pageCursors(c.Query("cursor"), c.Query("before")); err != nil {
			p.renderError(c, http.StatusBadRequest, string(problem.InvalidParameter), "This page link is not valid", "Go back to the first page of the section and page forward again.")
			return
		}
	}
	// The header, the counts and each section's page are independent reads; running them
	// at once keeps the page's latency near its slowest query (the counts, which grow with
	// the organization) rather than their sum.
	var (
		org    *store.OrgHeader
		counts *store.SectionCounts
		pages  []sectionDTO
		shown  []string
	)
	for _, sec := range sectionOrder {
		if section == "" || sec == section {
			shown = append(shown, sec)
		}
	}
	pages = make([]sectionDTO, len(shown))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { org, err = store.GetOrgHeader(gctx, p.s.db, orgID); return err })
	g.Go(func() (err error) { counts, err = store.CountSections(gctx, p.s.db, orgID, q); return err })
	limit := overviewPageSize
	if section != "" {
		limit = sectionPageSize
	}
	// The cards' actions and their "Retry window ended" line judge the same instant.
	now := p.s.now()
	for i, sec := range shown {
		g.Go(func() (err error) {
			pages[i], err = p.s.sectionPage(c, now, sec, q, after, before, limit)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		p.fail(c, err)
		return
	}
	org.Members = counts.Members
	bySection := counts.BySection
	changed, notice := p.dashboardNotice(c)
	here := dashboardPlace{section: section, q: q}
	switch {
	case after != nil:
		here.param, here.cursor = "cursor", c.Query("cursor")
	case before != nil:
		here.param, here.cursor = "before", c.Query("before")
	}
	v := dashboardView{Query: q, Section: section, Notice: notice, Back: here.back()}
	for i, sec := range shown {
		page := pages[i]
		sv := sectionView{Key: sec, Title: sectionTitles[sec], Count: bySection[sec]}
		for i := range page.Cards {
			sv.Cards = append(sv.Cards, v.placed(newCardView(page.Cards[i], p.s.cfg.RetryWindow, now)))
			if sv.Cards[i].RestartShoot && sv.BulkKey == "" {
				sv.BulkKey = uuid.NewString()
			}
		}
		if page.NextCursor != nil {
			if section == "" {
				sv.AllURL = dashboardURL(sec, q, "cursor", "")
			} else {
				sv.NextURL = dashboardURL(sec, q, "cursor", *page.NextCursor)
			}
		}
		if page.PrevCursor != nil {
			sv.PrevURL = dashboardURL(sec, q, "before", *page.PrevCursor)
		}
		if after != nil || before != nil {
			sv.FirstURL = dashboardURL(sec, q, "", "")
		}
		v.Sections = append(v.Sections, sv)
	}
	if changed != "" {
		p.markChanged(c, &v, changed)
	}
	p.render(c, http.StatusOK, "dashboard", pageView{Title: "Headshots", Org: org, Page: v})
}

// markChanged marks the card of the member a change just named; when it is on none of
// the pages shown (a change moves it to In Progress, or past this page), it is shown
// above the sections, so that the admin sees it without losing their place.
func (p *pages) markChanged(c *gin.Context, v *dashboardView, memberID string) {
	for i := range v.Sections {
		for j := range v.Sections[i].Cards {
			if v.Sections[i].Cards[j].Member.ID == memberID {
				v.Sections[i].Cards[j].Current = true
				return
			}
		}
	}
	k, err := store.MemberCard(c.Request.Context(), p.s.db, principal(c).OrgID, memberID)
	if err != nil {
		// The notice still names the member; a card that cannot be read is not shown.
		if pe, ok := problem.As(err); !ok || pe.Code != problem.NotFound {
			p.s.log.WarnContext(c.Request.Context(), "read the changed member's card", "request_id", requestID(c), "error", err)
		}
		return
	}
	now := p.s.now()
	cv := v.placed(newCardView(toCard(k, now, p.s.cfg.RetryWindow), p.s.cfg.RetryWindow, now))
	cv.Current = true
	changed := sectionView{Key: "changed", Title: "Changed just now", Count: 1, Cards: []cardView{cv}, Changed: true}
	v.Sections = append([]sectionView{changed}, v.Sections...)
}

// newCardView shows the card the API answers: its buttons are exactly the API card's
// actions (rules.CardActions decides both), so the page offers nothing the API does not.
// A pending retry's card links to the member page, which shows the pending notice.
func newCardView(k cardDTO, window time.Duration, now time.Time) cardView {
	v := cardView{cardDTO: k}
	if k.Section == domain.SectionFinished && k.Shoot.CompletedAt != nil && k.Shoot.RetryCount == 0 && k.Retry.RetriesRemaining > 0 {
		until := rules.RetryDeadline(*k.Shoot.CompletedAt, window)
		v.RetryUntil, v.RetryEnded = &until, now.After(until)
	}
	if slices.Contains(k.Actions, rules.ActionGiveRetry) {
		v.GiveRetry = true
		v.RetryURL = "/app/admin/members/" + k.Member.ID + "/retry?shoot_id=" + k.Shoot.ID
	}
	if slices.Contains(k.Actions, rules.ActionRestartShoot) {
		v.RestartShoot = true
		v.IdempotencyKey = uuid.NewString()
	}
	return v
}

// dashboardURL is a dashboard address; param is "cursor" to page forward from cursor,
// "before" to page back.
func dashboardURL(section, q, param, cursor string) string {
	v := url.Values{}
	if section != "" {
		v.Set("section", section)
	}
	if q != "" {
		v.Set("q", q)
	}
	if cursor != "" {
		v.Set(param, cursor)
	}
	if len(v) == 0 {
		return "/app/admin/headshots"
	}
	return "/app/admin/headshots?" + v.Encode()
}

// placed carries the dashboard's place in the card's Give retry link, for the
// confirmation's form (html/template would not escape it inside the link's query).
func (v *dashboardView) placed(k cardView) cardView {
	if k.RetryURL != "" && v.Back != "" {
		k.RetryURL += "&back=" + url.QueryEscape(v.Back)
	}
	return k
}

// dashboardNotice is the line shown after a redirect from a change, and the member it
// names: it reads them within the admin's organization, so the query string cannot
// inject text.
func (p *pages) dashboardNotice(c *gin.Context) (memberID, notice string) {
	var format string
	switch {
	case c.Query("given") != "":
		memberID, format = c.Query("given"), "Retry given to %s. Their shoot is back In Progress and the email with their link is on its way."
	case c.Query("restarted") != "":
		memberID, format = c.Query("restarted"), "Shoot restarted for %s. A fresh access link is on its way by email."
	default:
		return "", ""
	}
	if _, err := uuid.Parse(memberID); err != nil {
		return "", ""
	}
	m, err := store.GetMember(c.Request.Context(), p.s.db, principal(c).OrgID, memberID)
	if err != nil {
		return "", ""
	}
	return m.ID, fmt.Sprintf(format, m.Name)
}
