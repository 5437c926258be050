-- The listing pages newest first by (created_at, id): events of one transaction share
-- created_at, and the id breaks the tie. The member filter has its own index; the others
-- (action, actor) filter the organization's range.
--
-- Not in a transaction, one statement at a time, so each index is built CONCURRENTLY:
-- the audit writes of gives, restarts, starts and sign-ins go on while it builds. A build
-- interrupted halfway leaves an invalid index behind; dropping it first makes running
-- this again finish the job.
DROP INDEX CONCURRENTLY IF EXISTS audit_events_org_page_building;
--bun:split
CREATE INDEX CONCURRENTLY audit_events_org_page_building ON audit_events (org_id, created_at DESC, id DESC);
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS audit_events_org_page;
--bun:split
ALTER INDEX audit_events_org_page_building RENAME TO audit_events_org_page;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS audit_events_org_member_building;
--bun:split
CREATE INDEX CONCURRENTLY audit_events_org_member_building ON audit_events (org_id, member_id, created_at DESC, id DESC)
    WHERE member_id IS NOT NULL;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS audit_events_org_member;
--bun:split
ALTER INDEX audit_events_org_member_building RENAME TO audit_events_org_member;
--bun:split
DROP INDEX CONCURRENTLY IF EXISTS audit_events_org_recent;
