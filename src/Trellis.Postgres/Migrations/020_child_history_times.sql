-- The child trigger's history rows take the time the trigger runs (clock_timestamp()), not the start of the child's
-- transaction (now()): a child that finishes inside a claim window runs in a transaction that began at its claim, which
-- may be before its parent went waiting, and the parent's history would then show the child's end before the wait.
CREATE OR REPLACE FUNCTION {schema}.child_finished() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    woken_queue text;
BEGIN
    UPDATE {schema}.runs p SET
        children_awaited = p.children_awaited - 1,
        status = CASE WHEN p.children_awaited = 1 AND p.status = 'waiting' THEN 'pending' ELSE p.status END,
        scheduled_at = CASE WHEN p.children_awaited = 1 AND p.status = 'waiting' THEN now() ELSE p.scheduled_at END,
        wait_reason = CASE WHEN p.children_awaited = 1 AND p.status = 'waiting' THEN NULL ELSE p.wait_reason END,
        updated_at = now()
    WHERE p.id = NEW.parent_id AND p.children_awaited > 0
    RETURNING CASE WHEN p.status = 'pending' AND p.children_awaited = 0 THEN p.queue END INTO woken_queue;
    IF FOUND THEN
        INSERT INTO {schema}.history (run_id, at, event, detail)
        VALUES (NEW.parent_id, clock_timestamp(), 'child_finished', jsonb_build_object('child', NEW.id, 'status', NEW.status));
        IF woken_queue IS NOT NULL THEN
            INSERT INTO {schema}.history (run_id, at, event, detail) VALUES (NEW.parent_id, clock_timestamp(), 'woken', jsonb_build_object('by', 'children'));
            PERFORM pg_notify(TG_TABLE_SCHEMA || '.events', 'w:' || woken_queue);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
