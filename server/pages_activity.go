package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// The Activity page: who did what in the organization, from the audit API's own handlers
// (getAudit, getAuditCSV) run on the page's request, so the filters, their refusals, the
// organization's scope and the export's bound are the API's.

// activityActions are the actions the filter offers, in the help page's words where it
// has them, in the order an admin looks for them.
var activityActions = []struct{ Value, Label string }{
	{store.AuditRetryGive, "Give retry"},
	{store.AuditRetryResend, "Resend email"},
	{store.AuditShootRestart, "Restart shoot"},
	{store.AuditSignIn, "Sign in"},
	{store.AuditSignOut, "Sign out"},
	{store.AuditAPIKeyCreate, "API key created"},
	{store.AuditAPIKeyRevoke, "API key revoked"},
	{store.AuditShootStart, "Member started their shoot"},
	{store.AuditShootSubmit, "Member submitted photos"},
	{store.AuditShootActive, "Shoot finished"},
	{store.AuditShootFailed, "Shoot failed"},
	{store.AuditWebhookCreate, "Webhook endpoint added"},
	{store.AuditWebhookUpdate, "Webhook endpoint changed"},
	{store.AuditWebhookDelete, "Webhook endpoint deleted"},
	{store.AuditWebhookRotate, "Webhook secret rotated"},
	{store.AuditWebhookTest, "Webhook test event sent"},
	{store.AuditWebhookReplay, "Webhook delivery replayed"},
	{store.AuditWebhookDisable, "Webhook endpoint disabled by the system"},
}

func activityActionLabel(action string) string {
	for _, a := range activityActions {
		if a.Value == action {
			return a.Label
		}
	}
	return wordsLabel(action)
}

// activityOutcome says what came of an action.
func activityOutcome(action, outcome string) string {
	switch {
	case action == store.AuditRetryGive && outcome == "reserved":
		return "Retry given"
	case action == store.AuditRetryResend && outcome == "sent":
		return "Email sent"
	case action == store.AuditRetryResend && outcome == "skipped":
		return "Not sent: the member had already started"
	case action == store.AuditShootRestart && outcome == "created":
		return "Shoot restarted"
	case outcome == "signed_in":
		return "Signed in"
	case outcome == "signed_out":
		return "Signed out"
	case outcome == "created":
		return "Created"
	case outcome == "revoked":
		return "Revoked"
	case outcome == "ok":
		return "Done"
	case action == store.AuditWebhookDisable && outcome == domain.EndpointDisabledGone:
		return "Disabled: it answered 410 Gone"
	case action == store.AuditWebhookDisable && outcome == domain.EndpointDisabledFailing:
		return "Disabled: its deliveries kept failing"
	case outcome == "queued":
		return "Queued for delivery"
	}
	return wordsLabel(outcome)
}

const activityDate = "2006-01-02"

// activityFilters are the page's filters as the admin set them: dates are whole days in
// UTC, which the page turns into the API's since and until.
type activityFilters struct {
	Member     string
	MemberName string
	Action     string
	From, To   string
	Cursor     string
}

func readActivityFilters(c *gin.Context) activityFilters {
	return activityFilters{Member: c.Query("member"), Action: c.Query("action"), From: c.Query("from"), To: c.Query("to"), Cursor: c.Query("cursor")}
}

// apiQuery is the audit API's query for the filters; a date that is not one is answered
// as the API answers a time that is not one.
func (f activityFilters) apiQuery() (url.Values, *problem.Error) {
	q := url.Values{}
	for k, v := range map[string]string{"member": f.Member, "action": f.Action, "cursor": f.Cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for _, d := range []struct {
		name, value string
		days        int
	}{{"since", f.From, 0}, {"until", f.To, 1}} {
		if d.value == "" {
			continue
		}
		day, err := time.Parse(activityDate, d.value)
		if err != nil || !storableTime(day) {
			return nil, problem.New(problem.InvalidTimeRange, "dates are YYYY-MM-DD")
		}
		q.Set(d.name, day.AddDate(0, 0, d.days).Format(time.RFC3339))
	}
	return q, nil
}

// url is the Activity page (or, with path, its CSV) for these filters and a cursor.
func (f activityFilters) url(path, cursor string) string {
	v := url.Values{}
	for k, s := range map[string]string{"member": f.Member, "action": f.Action, "from": f.From, "to": f.To, "cursor": cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

type activityView struct {
	Filters     activityFilters
	Actions     []struct{ Value, Label string }
	Entries     []activityEntry
	NewestURL   string
	NewerURL    string
	OlderURL    string
	CSVURL      string
	AllMembers  string
	Error       string
	ProblemCode string
}

type activityEntry struct {
	ID          int64
	At          string // RFC 3339, for <time datetime>
	When        string
	Action      string
	ActionLabel string
	Who         string
	WhoKind     string
	Credential  string
	Outcome     string
	MemberID    string
	MemberName  string
	MemberURL   string
	OnlyMember  string
	RequestID   string
}

func (p *pages) getActivity(c *gin.Context) {
	f := readActivityFilters(c)
	q, perr := f.apiQuery()
	if perr != nil {
		p.renderActivityRefusal(c, f, problemBody{Code: string(perr.Code), Status: perr.Code.Status(), Detail: perr.Detail})
		return
	}
	w := callAPIWithQuery(c, p.s.getAudit, q)
	if pb, refused := w.problemOf(); refused {
		p.renderActivityRefusal(c, f, pb)
		return
	}
	var page auditPageDTO // the API's own answer type: the page reads what the API wrote
	if err := json.Unmarshal(w.body.Bytes(), &page); err != nil {
		p.fail(c, err)
		return
	}
	v, err := p.activityView(c, f, page)
	if err != nil {
		p.fail(c, err)
		return
	}
	p.render(c, http.StatusOK, "activity", pageView{Title: "Activity", Page: v})
}

// getActivityCSV downloads the view's events through the API's export, streamed as it
// writes them; a refusal is shown as the page, in words.
func (p *pages) getActivityCSV(c *gin.Context) {
	f := readActivityFilters(c)
	f.Cursor = "" // the export is the whole range, not a page of it
	q, perr := f.apiQuery()
	if perr != nil {
		p.renderActivityRefusal(c, f, problemBody{Code: string(perr.Code), Status: perr.Code.Status(), Detail: perr.Detail})
		return
	}
	adminPageHeaders(c)
	dw := &downloadWriter{ResponseWriter: c.Writer, header: http.Header{}}
	cp := apiContext(c, q)
	cp.Writer = dw
	p.s.getAuditCSV(cp)
	if dw.refusal != nil {
		pb := problemBody{Code: string(problem.Internal), Status: dw.status}
		_ = json.Unmarshal(dw.refusal.Bytes(), &pb)
		p.renderActivityRefusal(c, f, pb)
		return
	}
	if !dw.started {
		dw.start() // an empty answer still sends its headers
	}
}

// activityView builds the page from the API's answer, naming keys by their public
// prefix and members by name.
func (p *pages) activityView(c *gin.Context, f activityFilters, page auditPageDTO) (activityView, error) {
	ctx := c.Request.Context()
	orgID := principal(c).OrgID
	keys, err := store.AuditKeys(ctx, p.s.db, orgID)
	if err != nil {
		return activityView{}, err
	}
	var memberIDs []string
	if f.Member != "" {
		memberIDs = append(memberIDs, f.Member)
	}
	for _, e := range page.Events {
		if e.MemberID != nil {
			memberIDs = append(memberIDs, *e.MemberID)
		}
	}
	members, err := store.MemberNames(ctx, p.s.db, orgID, memberIDs)
	if err != nil {
		return activityView{}, err
	}
	v := activityView{Filters: f, Actions: activityActions, CSVURL: f.url("/app/admin/activity.csv", "")}
	v.Filters.MemberName = members[f.Member]
	if f.Member != "" {
		all := f
		all.Member = ""
		v.AllMembers = all.url("/app/admin/activity", "")
	}
	if f.Cursor != "" {
		v.NewestURL = f.url("/app/admin/activity", "")
	}
	if page.PrevCursor != nil {
		v.NewerURL = f.url("/app/admin/activity", *page.PrevCursor)
	}
	if page.NextCursor != nil {
		v.OlderURL = f.url("/app/admin/activity", *page.NextCursor)
	}
	for _, e := range page.Events {
		row := activityEntry{
			ID: e.ID, At: e.OccurredAt.UTC().Format(time.RFC3339), When: e.OccurredAt.UTC().Format("2 Jan 2006, 15:04:05 UTC"),
			Action: e.Action, ActionLabel: activityActionLabel(e.Action), Outcome: activityOutcome(e.Action, e.Outcome),
			Who: actorWords(e.Actor), WhoKind: actorKindWords(e.Actor.Kind), Credential: credentialWords(e.Credential, keys),
			RequestID: e.RequestID,
		}
		if e.MemberID != nil {
			row.MemberID = *e.MemberID
			row.MemberName = members[*e.MemberID]
			row.MemberURL = "/app/admin/members/" + *e.MemberID
			only := f
			only.Member = *e.MemberID
			row.OnlyMember = only.url("/app/admin/activity", "")
		}
		v.Entries = append(v.Entries, row)
	}
	return v, nil
}

func actorWords(a auditActorDTO) string {
	if a.Name != nil {
		return *a.Name
	}
	switch a.Kind {
	case store.ActorAdmin:
		return "An admin"
	case store.ActorMember:
		return "A member"
	}
	return wordsLabel(a.Kind)
}

func actorKindWords(kind string) string {
	switch kind {
	case store.ActorAdmin:
		return "admin"
	case store.ActorAutomation:
		return "automation"
	case store.ActorMember:
		return "member"
	}
	return ""
}

// credentialWords names what an action was done with; keys by their public prefix.
func credentialWords(cr auditCredentialDTO, keys map[string]store.AuditKey) string {
	key := func(id *string) string {
		if id != nil {
			if k, ok := keys[*id]; ok {
				return "API key " + k.Prefix
			}
		}
		return "an API key since removed"
	}
	switch cr.Kind {
	case store.CredentialAPIKey:
		return key(cr.ID)
	case store.CredentialSession:
		return "Session on these pages (" + key(cr.KeyID) + ")"
	case store.CredentialCLI:
		return "Command line (retryd keys)"
	case store.CredentialMemberLink:
		return "The member's link"
	case store.CredentialPipeline:
		return "Pipeline token"
	}
	return "Not recorded"
}

// activityRefusal is a refusal of the audit API in the page's words: refusalWords says
// every code; this page words two of them for its own form and links.
func activityRefusal(pb problemBody) string {
	switch problem.Code(pb.Code) {
	case problem.InvalidTimeRange:
		if pb.Detail == "dates are YYYY-MM-DD" {
			return "Enter dates as year, month and day (for example 2026-12-01)."
		}
	case problem.InvalidParameter:
		return "This page link is not valid. Go back to the newest activity and page again."
	}
	return refusalWords(pb)
}

// renderActivityRefusal shows the page with the filters as they were and the refusal in
// words, so the admin can correct them there.
func (p *pages) renderActivityRefusal(c *gin.Context, f activityFilters, pb problemBody) {
	status := pb.Status
	if status < 400 {
		status = http.StatusInternalServerError
	}
	f.Cursor = ""
	v := activityView{Filters: f, Actions: activityActions, Error: activityRefusal(pb), ProblemCode: pb.Code}
	if _, ok := canonicalUUID(f.Member); !ok {
		v.Filters.Member = "" // a broken member link is not carried into the form
	} else {
		all := f
		all.Member = ""
		v.AllMembers = all.url("/app/admin/activity", "")
	}
	p.render(c, status, "activity", pageView{Title: "Activity", Page: v})
	c.Abort()
}

// apiContext is a copy of the page's request context whose query string is q: the page's
// own parameters stay the page's, the API handler reads the API's.
func apiContext(c *gin.Context, q url.Values) *gin.Context {
	cp := c.Copy()
	req := c.Request.Clone(c.Request.Context())
	u := *req.URL
	u.RawQuery = q.Encode()
	req.URL = &u
	cp.Request = req
	return cp
}

// callAPIWithQuery runs an API read handler with the query q and returns its answer.
func callAPIWithQuery(c *gin.Context, handler gin.HandlerFunc, q url.Values) *capturedResponse {
	return callAPI(apiContext(c, q), handler, nil, "")
}

// downloadWriter passes an API handler's success through to the page's response as the
// handler writes it (an export can be large), and keeps a refusal (status 400 or more)
// to be shown as a page instead. Headers wait in header until the status is known.
type downloadWriter struct {
	gin.ResponseWriter
	header  http.Header
	status  int
	started bool
	refusal *bytes.Buffer
}

func (w *downloadWriter) Header() http.Header { return w.header }
func (w *downloadWriter) WriteHeader(code int) {
	if !w.started {
		w.status = code
	}
}
func (w *downloadWriter) WriteHeaderNow() { w.start() }
func (w *downloadWriter) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
func (w *downloadWriter) Written() bool { return w.started }
func (w *downloadWriter) Write(b []byte) (int, error) {
	w.start()
	if w.refusal != nil {
		return w.refusal.Write(b)
	}
	return w.ResponseWriter.Write(b)
}
func (w *downloadWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }
func (w *downloadWriter) Flush() {
	if w.refusal == nil && w.started {
		w.ResponseWriter.Flush()
	}
}
func (w *downloadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *downloadWriter) start() {
	if w.started {
		return
	}
	w.started = true
	if w.status >= 400 {
		w.refusal = new(bytes.Buffer)
		return
	}
	for k, v := range w.header {
		w.ResponseWriter.Header()[k] = v
	}
	w.ResponseWriter.WriteHeader(w.Status())
	w.ResponseWriter.WriteHeaderNow()
}
