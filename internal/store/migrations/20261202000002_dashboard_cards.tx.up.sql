-- The dashboard reads only what a page shows, whatever the planner's statistics say.
--
-- Before this migration the section of a member (decided by their most recent shoot) and
-- the per-card facts were computed by subqueries over every row of the organization; once
-- the tables were analyzed the planner hashed those subqueries over the whole shoots table
-- of every organization on every request. Here the facts a page filters and sorts on are
-- kept in rows maintained by triggers, in the same transaction as the change that moves
-- them, so a page is one keyset range of an index:
--
--   dashboard_cards   one row per member with a shoot: section, sort key, search text and
--                     the most recent shoot, indexed (org_id, section, name, member_id).
--   shoots.result_count   the number of results of a shoot.
--   org_counters      the header's member and finished-shoot counts.
--
-- Triggers are statement-level with transition tables, so a bulk load of thousands of
-- rows costs a few set-based statements, not one trigger call per row.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

------------------------------------------------------------------------------------------
-- Result counts on the shoot.

ALTER TABLE shoots ADD COLUMN result_count integer NOT NULL DEFAULT 0 CHECK (result_count >= 0);

UPDATE shoots s SET result_count = r.n
FROM (SELECT shoot_id, count(*) AS n FROM results GROUP BY shoot_id) r
WHERE r.shoot_id = s.id;

CREATE FUNCTION results_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Ordered by shoot id so concurrent bulk changes lock shoots in one order.
    IF TG_OP = 'INSERT' THEN
        UPDATE shoots s SET result_count = s.result_count + d.n
        FROM (SELECT shoot_id, count(*) AS n FROM new_rows GROUP BY shoot_id ORDER BY shoot_id) d
        WHERE s.id = d.shoot_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE shoots s SET result_count = s.result_count - d.n
        FROM (SELECT shoot_id, count(*) AS n FROM old_rows GROUP BY shoot_id ORDER BY shoot_id) d
        WHERE s.id = d.shoot_id;
    ELSE
        UPDATE shoots s SET result_count = s.result_count + d.n
        FROM (SELECT shoot_id, sum(n) AS n FROM (
                  SELECT shoot_id, 1 AS n FROM new_rows
                  UNION ALL
                  SELECT shoot_id, -1 FROM old_rows) x
              GROUP BY shoot_id HAVING sum(n) <> 0 ORDER BY shoot_id) d
        WHERE s.id = d.shoot_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER results_count_insert AFTER INSERT ON results
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION results_count_changed();
CREATE TRIGGER results_count_delete AFTER DELETE ON results
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION results_count_changed();
CREATE TRIGGER results_count_update AFTER UPDATE ON results
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION results_count_changed();

------------------------------------------------------------------------------------------
-- Dashboard cards: the member's section and sort key, and their most recent shoot.

CREATE TABLE dashboard_cards (
    member_id uuid PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    org_id    uuid NOT NULL,
    section   text NOT NULL CHECK (section IN ('finished', 'in_progress', 'deleted')),
    name      text NOT NULL,
    email     text,
    shoot_id  uuid NOT NULL,
    -- What the search box matches, in one column so that one trigram index serves the
    -- name and the address (the planner does not combine an OR of two columns with the
    -- organization in one GIN scan).
    search    text GENERATED ALWAYS AS (lower(name) || E'\n' || lower(coalesce(email, ''))) STORED
);

-- dashboard_cards_refresh recomputes the cards of the given members from members and
-- shoots. It first locks the existing cards (in member order, so two refreshes never
-- deadlock), then reads with a fresh snapshot: a refresh that waited for another
-- transaction sees what that transaction committed and never writes back an older section.
CREATE FUNCTION dashboard_cards_refresh(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM dashboard_cards WHERE member_id = ANY (ids) ORDER BY member_id FOR UPDATE;
    DELETE FROM dashboard_cards c
    WHERE c.member_id = ANY (ids)
      AND NOT EXISTS (SELECT 1 FROM shoots s WHERE s.member_id = c.member_id);
    INSERT INTO dashboard_cards AS c (member_id, org_id, section, name, email, shoot_id)
    SELECT m.id, m.org_id,
           CASE l.status WHEN 'active' THEN 'finished' WHEN 'deleted' THEN 'deleted' ELSE 'in_progress' END,
           m.name, m.email, l.id
    FROM members m
    CROSS JOIN LATERAL (SELECT s.id, s.status FROM shoots s WHERE s.member_id = m.id
                        ORDER BY s.created_at DESC, s.id DESC LIMIT 1) l
    WHERE m.id = ANY (ids)
    ORDER BY m.id
    ON CONFLICT (member_id) DO UPDATE
        SET org_id = EXCLUDED.org_id, section = EXCLUDED.section, name = EXCLUDED.name,
            email = EXCLUDED.email, shoot_id = EXCLUDED.shoot_id
        WHERE (c.org_id, c.section, c.name, c.email, c.shoot_id)
              IS DISTINCT FROM (EXCLUDED.org_id, EXCLUDED.section, EXCLUDED.name, EXCLUDED.email, EXCLUDED.shoot_id);
END $$;

CREATE FUNCTION shoots_cards_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM dashboard_cards_refresh(ARRAY(SELECT DISTINCT member_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM dashboard_cards_refresh(ARRAY(SELECT DISTINCT member_id FROM old_rows));
    ELSE
        -- Only a change of status, order or owner moves a card; result counts, start and
        -- submission times do not.
        PERFORM dashboard_cards_refresh(ARRAY(
            SELECT n.member_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.status, n.created_at, n.member_id) IS DISTINCT FROM (o.status, o.created_at, o.member_id)
            UNION
            SELECT o.member_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.member_id IS DISTINCT FROM o.member_id));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER shoots_cards_insert AFTER INSERT ON shoots
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION shoots_cards_changed();
CREATE TRIGGER shoots_cards_update AFTER UPDATE ON shoots
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION shoots_cards_changed();
CREATE TRIGGER shoots_cards_delete AFTER DELETE ON shoots
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION shoots_cards_changed();

CREATE FUNCTION members_cards_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM dashboard_cards_refresh(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.name, n.email, n.org_id) IS DISTINCT FROM (o.name, o.email, o.org_id)));
    RETURN NULL;
END $$;

CREATE TRIGGER members_cards_update AFTER UPDATE ON members
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION members_cards_changed();

INSERT INTO dashboard_cards (member_id, org_id, section, name, email, shoot_id)
SELECT m.id, m.org_id,
       CASE l.status WHEN 'active' THEN 'finished' WHEN 'deleted' THEN 'deleted' ELSE 'in_progress' END,
       m.name, m.email, l.id
FROM members m
CROSS JOIN LATERAL (SELECT s.id, s.status FROM shoots s WHERE s.member_id = m.id
                    ORDER BY s.created_at DESC, s.id DESC LIMIT 1) l;

-- The indexes come after the backfill: building them once is faster than growing them
-- row by row, the trigram index above all.

-- A page is one range of this index: equality on org and section, keyset on (name, id).
CREATE INDEX dashboard_cards_page ON dashboard_cards (org_id, section, name, member_id);
-- Search: trigram matches within one organization (btree_gin puts the organization in
-- the same GIN index), so a rare term reads its matches in this organization only and
-- other organizations' members cost nothing. A common term is cheaper through the page
-- index with a filter, and the planner takes that one.
-- fastupdate off: with a pending list (filled by inserts until a vacuum merges it) the
-- planner prices the whole list into every search and falls back to reading the
-- organization's section; cards change rarely enough to update the index in place.
CREATE INDEX dashboard_cards_search ON dashboard_cards USING gin (org_id, search gin_trgm_ops)
    WITH (fastupdate = off);

------------------------------------------------------------------------------------------
-- Header counts per organization.
--
-- One row per organization, changed only when a member is added or removed or a shoot
-- enters or leaves 'active' (a write skipped when the count does not move). Such a
-- transaction holds the row until it commits, so finishing shoots of one organization
-- queue here for the rest of their (short) transactions. The row is always locked after
-- the shoot whose status moved, and no transaction of retryd moves two shoots' statuses
-- one after the other, so the order is always shoot then counter.

CREATE TABLE org_counters (
    org_id          uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    members         integer NOT NULL DEFAULT 0,
    finished_shoots integer NOT NULL DEFAULT 0
);

INSERT INTO org_counters (org_id, members, finished_shoots)
SELECT o.id,
       (SELECT count(*) FROM members m WHERE m.org_id = o.id),
       (SELECT count(*) FROM shoots s WHERE s.org_id = o.id AND s.status = 'active')
FROM organizations o;

CREATE FUNCTION org_counters_add(d_org uuid, d_members integer, d_finished integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO org_counters AS c (org_id, members, finished_shoots) VALUES (d_org, d_members, d_finished)
    ON CONFLICT (org_id) DO UPDATE
        SET members = c.members + EXCLUDED.members, finished_shoots = c.finished_shoots + EXCLUDED.finished_shoots;
$$;

CREATE FUNCTION members_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM org_counters_add(org_id, n::integer, 0)
        FROM (SELECT org_id, count(*) AS n FROM new_rows GROUP BY org_id ORDER BY org_id) d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM org_counters_add(org_id, -n::integer, 0)
        FROM (SELECT org_id, count(*) AS n FROM old_rows GROUP BY org_id ORDER BY org_id) d;
    ELSE
        PERFORM org_counters_add(org_id, n::integer, 0)
        FROM (SELECT org_id, sum(n) AS n FROM (
                  SELECT org_id, 1 AS n FROM new_rows
                  UNION ALL
                  SELECT org_id, -1 FROM old_rows) x
              GROUP BY org_id HAVING sum(n) <> 0 ORDER BY org_id) d;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER members_count_insert AFTER INSERT ON members
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION members_count_changed();
CREATE TRIGGER members_count_delete AFTER DELETE ON members
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION members_count_changed();
CREATE TRIGGER members_count_update AFTER UPDATE ON members
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION members_count_changed();

CREATE FUNCTION shoots_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM org_counters_add(org_id, 0, n::integer)
        FROM (SELECT org_id, count(*) AS n FROM new_rows WHERE status = 'active'
              GROUP BY org_id ORDER BY org_id) d;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM org_counters_add(org_id, 0, -n::integer)
        FROM (SELECT org_id, count(*) AS n FROM old_rows WHERE status = 'active'
              GROUP BY org_id ORDER BY org_id) d;
    ELSE
        PERFORM org_counters_add(org_id, 0, n::integer)
        FROM (SELECT org_id, sum(n) AS n FROM (
                  SELECT org_id, 1 AS n FROM new_rows WHERE status = 'active'
                  UNION ALL
                  SELECT org_id, -1 FROM old_rows WHERE status = 'active') x
              GROUP BY org_id HAVING sum(n) <> 0 ORDER BY org_id) d;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER shoots_count_insert AFTER INSERT ON shoots
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION shoots_count_changed();
CREATE TRIGGER shoots_count_delete AFTER DELETE ON shoots
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION shoots_count_changed();
CREATE TRIGGER shoots_count_update AFTER UPDATE ON shoots
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION shoots_count_changed();
