-- A run has completed_at exactly when it is finished (completed, failed or cancelled). Every statement that
-- finishes or re-queues a run keeps this; the constraint makes it a rule, so "finished" can be read from
-- completed_at, which no index covers: a lookup of finished runs by id is then served by the primary key
-- alone, whatever plan PostgreSQL keeps for it (a generic plan that also used the index by status read
-- every finished run on each lookup).
ALTER TABLE {schema}.runs ADD CONSTRAINT runs_finished_have_completed_at
    CHECK ((status IN ('completed', 'failed', 'cancelled')) = (completed_at IS NOT NULL));
