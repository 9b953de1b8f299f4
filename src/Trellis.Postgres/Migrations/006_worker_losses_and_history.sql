-- Worker losses are counted apart from attempts. An attempt is the workflow's to use up with its own errors; a
-- worker that dies, freezes past its lease or loses its claim window is not the workflow's doing. Each such loss
-- gives back the attempt its claim charged and counts here instead, against a limit of its own; a run whose
-- losses exceed it is failed with the error type 'Trellis.WorkerLossLimitExceeded' and can be resumed.
-- Both columns have constant defaults, so existing rows are not rewritten.
ALTER TABLE {schema}.runs
    ADD COLUMN worker_losses     integer NOT NULL DEFAULT 0,
    ADD COLUMN max_worker_losses integer NOT NULL DEFAULT 50 CONSTRAINT runs_max_worker_losses_not_negative CHECK (max_worker_losses >= 0);

-- A workflow's own limit (WorkflowAttribute.MaxWorkerLosses), so that a process that starts it by name, without
-- the workflow's code, applies it too. NULL: the workflow sets none.
ALTER TABLE {schema}.workflow_definitions ADD COLUMN max_worker_losses integer;

-- What happened to a run, in order: one row per event (today each worker loss, and each resume). Append-only.
CREATE TABLE {schema}.history (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id    text COLLATE "C" NOT NULL REFERENCES {schema}.runs (id) ON DELETE CASCADE,
    at        timestamptz      NOT NULL DEFAULT now(),
    event     text COLLATE "C" NOT NULL,
    worker_id text COLLATE "C",
    epoch     bigint,
    attempt   integer,
    detail    jsonb
);

-- A run's history in order, and the cascade when a run is deleted.
CREATE INDEX history_by_run ON {schema}.history (run_id, id);
