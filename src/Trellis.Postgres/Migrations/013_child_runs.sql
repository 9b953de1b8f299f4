-- Child runs: a run a workflow started (WorkflowContext.StartChildAsync) names its parent. Its id comes from the
-- parent's id and the step position that started it, so a parent that is replayed never starts it twice.
-- cancel_with_parent: cancelling the parent cancels the child too (ChildOptions.WhenParentCancelled).
-- A parent that waits for children is 'waiting' with children_awaited counting those still unfinished; each of them
-- is marked parent_waits, and its last transition to a finished status counts it down (the trigger below), the
-- last one making the parent ready again. Every column has a constant default, so existing rows are not rewritten.
ALTER TABLE {schema}.runs
    ADD COLUMN parent_id          text COLLATE "C",
    ADD COLUMN cancel_with_parent boolean NOT NULL DEFAULT true,
    ADD COLUMN parent_waits       boolean NOT NULL DEFAULT false,
    ADD COLUMN children_awaited   integer NOT NULL DEFAULT 0;

-- A parent's children, and the cascade of a cancel.
CREATE INDEX runs_children ON {schema}.runs (parent_id) WHERE parent_id IS NOT NULL;

-- Every way a run can finish (a worker's batch, a claim window's close, a cancel, a worker-loss limit) goes through
-- an UPDATE of its status, so the count-down lives here rather than in each of those statements. It fires only for
-- children a parent waits for; it records the child's end in the parent's history, and wakes the parent, telling its
-- queue's workers, when the last one finishes.
CREATE FUNCTION {schema}.child_finished() RETURNS trigger LANGUAGE plpgsql AS $$
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
        INSERT INTO {schema}.history (run_id, event, detail)
        VALUES (NEW.parent_id, 'child_finished', jsonb_build_object('child', NEW.id, 'status', NEW.status));
        IF woken_queue IS NOT NULL THEN
            INSERT INTO {schema}.history (run_id, event, detail) VALUES (NEW.parent_id, 'woken', jsonb_build_object('by', 'children'));
            PERFORM pg_notify(TG_TABLE_SCHEMA || '.events', 'w:' || woken_queue);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_child_finished AFTER UPDATE OF status ON {schema}.runs
    FOR EACH ROW
    WHEN (NEW.parent_waits AND NEW.status IN ('completed', 'failed', 'cancelled')
          AND OLD.status NOT IN ('completed', 'failed', 'cancelled'))
    EXECUTE FUNCTION {schema}.child_finished();
