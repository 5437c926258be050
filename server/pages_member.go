package server

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
)

// memberView is the member detail page: where an admin checks whether a retry was
// already issued.
type memberView struct {
	Member   *store.Member
	Shoots   []store.ShootWithCount
	Retries  []retryRow
	Restarts []restartRow
	Pending  *retryRow
	// PendingNotice is the help page's notice for a pending retry, the same words the
	// Give retry confirmation shows: a pending retry's dashboard card links here.
	PendingNotice string
	Notice        string
}

type retryRow struct {
	store.Retry
	IssuedByName string
	ReasonLabel  string
	// Shoot is the shoot the retry was for, from the member's shoots (nil if it is not
	// among them, which the schema does not allow).
	Shoot *store.ShootWithCount
}

type restartRow struct {
	store.Restart
	IssuedByName string
}

func (p *pages) getMemberPage(c *gin.Context) {
	ctx := c.Request.Context()
	memberID, ok := p.pageUUID(c, "id")
	if !ok {
		return
	}
	orgID := principal(c).OrgID
	d, err := store.GetMemberDetail(ctx, p.s.db, orgID, memberID)
	if err != nil {
		p.fail(c, err)
		return
	}
	admins, err := store.AdminNames(ctx, p.s.db, orgID)
	if err != nil {
		p.fail(c, err)
		return
	}
	who := func(kind, id string) string {
		if kind == store.ActorAdmin {
			if n, ok := admins[id]; ok {
				return n
			}
			return "An admin"
		}
		return "Automation key"
	}
	v := memberView{Member: d.Member, Shoots: d.Shoots, PendingNotice: pendingRetryNotice}
	shoots := make(map[string]*store.ShootWithCount, len(d.Shoots))
	for i := range d.Shoots {
		shoots[d.Shoots[i].ID] = &d.Shoots[i]
	}
	for _, r := range d.Retries {
		row := retryRow{Retry: r, IssuedByName: who(r.IssuedByKind, r.IssuedBy), ReasonLabel: reasonLabel(r.Reason), Shoot: shoots[r.ShootID]}
		v.Retries = append(v.Retries, row)
		if r.Status == domain.StatusPending && v.Pending == nil {
			pending := row
			v.Pending = &pending
		}
	}
	for _, r := range d.Restarts {
		v.Restarts = append(v.Restarts, restartRow{Restart: r, IssuedByName: who(r.IssuedByKind, r.IssuedBy)})
	}
	if c.Query("resent") != "" {
		v.Notice = "The retry email was sent again."
	}
	p.render(c, http.StatusOK, "member", pageView{Title: d.Member.Name, Page: v})
}

// reasonLabel is a reason code in words ("bad_lighting" is "Bad lighting").
func reasonLabel(r *string) string {
	if r == nil || *r == "" {
		return "—"
	}
	return wordsLabel(strings.TrimSpace(*r))
}
