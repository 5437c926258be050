package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/loadgen"
)

// pages measures the dashboard and the member detail at PageClients connections at
// once: first their own SQL straight through pgx (the database floor), then the same
// requests through the API, after a warm-up of each (plans, connections, key cache).
func (r *runner) pages(ctx context.Context) error {
	cfg, o := r.cfg, r.orgs
	floor, err := openPgxFloor(ctx, r.t.DatabaseURL, cfg.PageClients)
	if err != nil {
		return err
	}
	defer floor.close()

	dash := dashboardSQL(o.pagesOrgID)
	detail := memberDetailSQL(o.pagesOrgID, o.details)
	dashPath := "/api/v1/admin/headshots?section=" + dashboardSection + "&limit=" + strconv.Itoa(dashboardLimit)
	pagesList := []struct {
		dbKey, httpKey, name string
		stmts                [][]store.Statement
		mode                 pgx.QueryExecMode // as retryd sends them (store.Dashboard, store.GetMemberDetail)
		path                 func(i int) string
	}{
		{KeyDBDashboard, KeyPageDashboard, fmt.Sprintf("dashboard, Finished page of %d (%d members)", dashboardLimit, cfg.DashboardMembers),
			dash, pgx.QueryExecModeCacheStatement, func(int) string { return dashPath }},
		{KeyDBDetail, KeyPageDetail, fmt.Sprintf("member detail (%d members in turn)", len(o.details)),
			detail, batchMode, func(i int) string { return "/api/v1/admin/members/" + o.details[i%len(o.details)] }},
	}
	// The pages' load goes by the lean client (package loadgen), not r.api's net/http
	// client: on one machine the load's CPU comes off what it measures.
	pools := make([]*loadgen.Pool, len(r.t.APIURLs))
	for i, u := range r.t.APIURLs {
		if pools[i], err = loadgen.New(u, cfg.PageClients); err != nil {
			return err
		}
		defer pools[i].Close()
	}
	for _, p := range pagesList {
		viaPgx := func(ctx context.Context, i int) error { return floor.run(ctx, p.stmts[i%len(p.stmts)], p.mode) }
		viaHTTP := func(_ context.Context, i int) error {
			return pools[i%len(pools)].Get(p.path(i), o.pagesKey, http.StatusOK)
		}
		warm := 2 * cfg.PageClients
		if _, _, err := load(ctx, cfg.PageClients, warm, viaPgx); err != nil {
			return fmt.Errorf("%s warm-up (pgx): %w", p.name, err)
		}
		if _, _, err := load(ctx, cfg.PageClients, warm, viaHTTP); err != nil {
			return fmt.Errorf("%s warm-up (HTTP): %w", p.name, err)
		}
		note := fmt.Sprintf("%d statements", len(p.stmts[0]))
		switch {
		case len(p.stmts[0]) == 1:
			note = "1 statement"
		case p.mode == batchMode:
			note += " in one batch"
		}
		if err := r.measure(ctx, Row{Key: p.dbKey, Group: GroupDatabase, Name: p.name + ", its SQL through pgx",
			Note: note}, cfg.PageClients, cfg.PageCalls, 1, viaPgx); err != nil {
			return err
		}
		if err := r.measure(ctx, Row{Key: p.httpKey, Group: GroupPages, Name: p.name + " over HTTP", Floor: p.dbKey},
			cfg.PageClients, cfg.PageCalls, 1, viaHTTP); err != nil {
			return err
		}
	}
	return nil
}
