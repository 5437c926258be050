-- The events written before credentials were recorded get what can be known of theirs:
-- an automation actor is its key; members act through their link, the pipeline through
-- its token, the system actor through the command line. Which key an admin used was not
-- recorded, so admin events stay 'unknown'. The member comes from the event's detail, or
-- from its retry or shoot. Only rows still as the previous migration left them change,
-- so running this again changes nothing.
UPDATE audit_events e SET
    credential_kind = CASE e.actor_kind
        WHEN 'automation' THEN 'api_key'
        WHEN 'member' THEN 'member_link'
        WHEN 'pipeline' THEN 'pipeline_token'
        WHEN 'system' THEN 'cli'
        ELSE 'unknown' END,
    credential_id = CASE WHEN e.actor_kind = 'automation' THEN e.actor_id ELSE '' END,
    key_id = CASE WHEN e.actor_kind = 'automation' THEN e.actor_id::uuid END,
    member_id = COALESCE(
        CASE WHEN e.detail ? 'member_id' THEN (e.detail ->> 'member_id')::uuid END,
        CASE e.target_kind
            WHEN 'retry' THEN (SELECT r.member_id FROM retries r WHERE r.id = e.target_id::uuid)
            WHEN 'shoot' THEN (SELECT s.member_id FROM shoots s WHERE s.id = e.target_id::uuid)
        END)
WHERE e.credential_kind = 'unknown' AND e.key_id IS NULL AND e.member_id IS NULL;
