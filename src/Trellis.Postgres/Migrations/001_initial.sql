-- Trellis schema, version 1. {schema} is replaced by the validated, quoted schema name.

-- One row per run. The row is also the run's entry in the queue: pending rows are the ready work,
-- running rows carry the lease of the worker that holds them.
-- Identifiers compare byte by byte (COLLATE "C"): they are keys, not prose, and every index on them is
-- searched on every claim and checkpoint.
CREATE TABLE {schema}.runs (
    id               text COLLATE "C" PRIMARY KEY,
    workflow_name    text COLLATE "C" NOT NULL,
    workflow_version integer          NOT NULL,
    queue            text COLLATE "C" NOT NULL,
    priority         integer          NOT NULL DEFAULT 0,
    status           text COLLATE "C" NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    input            jsonb,
    output           jsonb,
    error            jsonb,
    correlation_id   text COLLATE "C",
    tags             jsonb            NOT NULL DEFAULT '{}',
    progress_percent double precision,
    progress_message text,
    attempt          integer          NOT NULL DEFAULT 0,
    max_attempts     integer          NOT NULL CHECK (max_attempts >= 1),
    epoch            bigint           NOT NULL DEFAULT 0,
    locked_by        text COLLATE "C",
    lease_expires_at timestamptz,
    cancel_requested boolean          NOT NULL DEFAULT false,
    scheduled_at     timestamptz      NOT NULL DEFAULT now(),
    created_at       timestamptz      NOT NULL DEFAULT now(),
    started_at       timestamptz,
    updated_at       timestamptz      NOT NULL DEFAULT now(),
    completed_at     timestamptz
);

-- The claim: ready runs of a queue, highest priority first, then oldest. Only pending rows are indexed.
CREATE INDEX runs_ready ON {schema}.runs (queue, priority DESC, scheduled_at) WHERE status = 'pending';
-- The scan for expired leases. Only running rows are indexed.
CREATE INDEX runs_leases ON {schema}.runs (lease_expires_at) WHERE status = 'running';
-- Listing, newest first: by status, by workflow, by creation time, by correlation id, by tag. Rows are
-- updated on every state change, so these keys stay narrow (ties on created_at are rare and sorted on the fly),
-- and runs without a correlation id or without tags are not indexed for them at all.
CREATE INDEX runs_by_status ON {schema}.runs (status, created_at DESC);
CREATE INDEX runs_by_workflow ON {schema}.runs (workflow_name, created_at DESC);
CREATE INDEX runs_by_created ON {schema}.runs (created_at DESC);
CREATE INDEX runs_by_correlation ON {schema}.runs (correlation_id, created_at DESC) WHERE correlation_id IS NOT NULL;
CREATE INDEX runs_by_tags ON {schema}.runs USING gin (tags jsonb_path_ops) WHERE tags <> '{}';

-- One row per step, or per item of a per-item step (item_index = the item's index).
-- (run_id, seq, item_index) is the checkpoint key; the step name is kept to detect non-determinism.
CREATE TABLE {schema}.steps (
    run_id         text COLLATE "C" NOT NULL REFERENCES {schema}.runs (id) ON DELETE CASCADE,
    seq            integer     NOT NULL,
    item_index     integer,
    name           text        NOT NULL,
    status         text COLLATE "C" NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    result         jsonb,
    error          jsonb,
    attempt_errors jsonb,
    attempts       integer     NOT NULL,
    epoch          bigint      NOT NULL,
    started_at     timestamptz,
    completed_at   timestamptz
);

-- The checkpoint key, and a run's steps in order. A plain step has item_index NULL, kept apart from item 0.
CREATE UNIQUE INDEX steps_key ON {schema}.steps (run_id, seq, (coalesce(item_index, -1)));

-- The workflow definitions workers have registered, so any process can start a run by name.
CREATE TABLE {schema}.workflow_definitions (
    name          text COLLATE "C" NOT NULL,
    version       integer     NOT NULL,
    input_type    text        NOT NULL,
    output_type   text        NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);
