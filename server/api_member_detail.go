package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/store"
)

// getMember is the admin's member detail: allowance, shoots, retries (newest first),
// restarts and the pending retry.
func (s *Server) getMember(c *gin.Context) {
	memberID, ok := s.pathUUID(c, "id")
	if !ok {
		return
	}
	d, err := store.GetMemberDetail(c.Request.Context(), s.db, principal(c).OrgID, memberID)
	if err != nil {
		s.fail(c, err)
		return
	}
	shoots := make([]shootDTO, 0, len(d.Shoots))
	for i := range d.Shoots {
		shoots = append(shoots, toShoot(&d.Shoots[i].Shoot, d.Shoots[i].ResultCount))
	}
	retries := make([]retryDTO, 0, len(d.Retries))
	for i := range d.Retries {
		retries = append(retries, toRetry(&d.Retries[i]))
	}
	restarts := make([]restartDTO, 0, len(d.Restarts))
	for i := range d.Restarts {
		restarts = append(restarts, toRestart(&d.Restarts[i]))
	}
	var pending *retryDTO
	if r := d.PendingRetry(); r != nil {
		dto := toRetry(r)
		pending = &dto
	}
	c.JSON(http.StatusOK, gin.H{
		"member": toMember(d.Member), "allowance": toAllowance(d.Member),
		"shoots": shoots, "retries": retries, "restarts": restarts, "pending_retry": pending,
	})
}
