-- Answers kept under an Idempotency-Key no longer hold members' access links: a link is
-- a live credential for 30 days, and a replay signs a fresh one. This takes the links
-- out of the answers kept before: a restart's answer (access_link at the top) and a bulk
-- restart's (access_link in each result's restart). Only answers that hold a link are
-- rewritten; every other answer keeps its exact bytes.
UPDATE idempotency_keys
SET response = convert_to((convert_from(response, 'UTF8')::jsonb - 'access_link')::text, 'UTF8')
WHERE status_code BETWEEN 200 AND 299
  AND position('"access_link"'::bytea IN response) > 0
  AND jsonb_typeof(convert_from(response, 'UTF8')::jsonb) = 'object'
  AND convert_from(response, 'UTF8')::jsonb ? 'access_link';

UPDATE idempotency_keys k
SET response = convert_to(jsonb_set(a.answer, '{results}', (
        SELECT jsonb_agg(CASE WHEN jsonb_typeof(e.result -> 'restart') = 'object'
                              THEN jsonb_set(e.result, '{restart}', (e.result -> 'restart') - 'access_link')
                              ELSE e.result END ORDER BY e.n)
        FROM jsonb_array_elements(a.answer -> 'results') WITH ORDINALITY AS e(result, n)))::text, 'UTF8')
FROM (SELECT org_id, key, convert_from(response, 'UTF8')::jsonb AS answer
      FROM idempotency_keys
      WHERE status_code BETWEEN 200 AND 299
        AND position('"access_link"'::bytea IN response) > 0) a
WHERE k.org_id = a.org_id AND k.key = a.key
  AND jsonb_path_exists(a.answer, '$.results[*].restart.access_link');
