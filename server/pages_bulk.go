package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// bulkRestartedView is the page after Restart selected shoots: one row per member
// selected, in the order of the form.
type bulkRestartedView struct {
	Rows      []bulkRow
	Restarted int
	BackURL   string
}

type bulkRow struct {
	MemberID string
	Name     string
	Outcome  string // the bulk API's: restarted, skipped or error
	Words    string
	Code     string // the refusal's problem code, kept in the page for support and tests
	// AccessLink is a restarted member's fresh link when they have no email address:
	// shown once, as after a single Restart shoot.
	AccessLink string
}

// postBulkRestartForm restarts the managed members selected in Deleted photo shoots
// through the bulk API's own handler (POST /api/v1/admin/restarts): each member on their
// own, so one refusal never blocks another's restart. The form's Idempotency-Key makes a
// double submit restart each member once; a replay shows the links again.
func (p *pages) postBulkRestartForm(c *gin.Context) {
	place := placeFrom(c.PostForm("back"))
	key := c.PostForm("idempotency_key")
	if _, err := uuid.Parse(key); err != nil {
		p.renderError(c, http.StatusBadRequest, string(problem.InvalidBody), "This form is incomplete", "Reload the dashboard and select the members again.")
		return
	}
	ids := c.PostFormArray("member_id")
	switch {
	case len(ids) == 0:
		p.renderError(c, http.StatusBadRequest, string(problem.InvalidBody), "No member selected",
			"Select one or more managed members in Deleted photo shoots, then press Restart selected shoots.")
		return
	case len(ids) > maxBulkRestarts:
		p.renderError(c, http.StatusBadRequest, string(problem.InvalidBody), "Too many members selected",
			"Select at most "+strconv.Itoa(maxBulkRestarts)+" members at a time.")
		return
	}
	body, _ := json.Marshal(bulkRestartRequest{MemberIDs: ids})
	w := callAPI(c, p.s.postBulkRestarts, body, key)
	if pb, refused := w.problemOf(); refused {
		p.renderError(c, pb.Status, pb.Code, "No shoot was restarted", refusalWords(pb))
		return
	}
	var ans bulkRestartAnswer
	if err := json.Unmarshal(w.body.Bytes(), &ans); err != nil {
		p.fail(c, err)
		return
	}
	valid := make([]string, 0, len(ans.Results))
	for _, r := range ans.Results {
		if id, err := uuid.Parse(r.MemberID); err == nil && len(r.MemberID) == 36 {
			valid = append(valid, id.String())
		}
	}
	names, err := store.MemberNames(c.Request.Context(), p.s.db, principal(c).OrgID, valid)
	if err != nil {
		p.fail(c, err)
		return
	}
	v := bulkRestartedView{BackURL: place.url()}
	for _, r := range ans.Results {
		// The names are keyed by the canonical (lower-case) id; a form may carry any case.
		row := bulkRow{MemberID: r.MemberID, Name: names[strings.ToLower(r.MemberID)], Outcome: r.Outcome}
		if row.Name == "" {
			row.Name = "A member not in your organization"
		}
		switch {
		case r.Outcome == "restarted" && r.Restart != nil && r.Restart.AccessLink != nil:
			row.AccessLink = *r.Restart.AccessLink
			row.Words = "Restarted. " + row.Name + " has no email address, so send them this fresh access link yourself. It is shown only now."
			v.Restarted++
		case r.Outcome == "restarted":
			row.Words = "Restarted. A fresh access link is on its way by email."
			v.Restarted++
		default:
			pb := problemBody{Detail: r.Detail, RequestID: requestID(c)}
			if r.Code != nil {
				pb.Code = *r.Code
			}
			row.Code = pb.Code
			row.Words = "Not restarted: " + refusalWords(pb)
		}
		v.Rows = append(v.Rows, row)
	}
	p.render(c, http.StatusOK, "bulkrestarted", pageView{Title: "Shoots restarted", Page: v})
}
