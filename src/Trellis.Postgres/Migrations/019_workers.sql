-- The live workers: each engine with a worker records itself here as it starts and every few seconds after
-- (WorkerOptions.WorkerHeartbeatInterval), and marks itself stopped as it stops. A worker that died stops beating; rows
-- not beaten for a day are deleted by the next beat of any worker. Read by /health, the API and the dashboard.
CREATE TABLE {schema}.workers (
    id             text COLLATE "C" PRIMARY KEY,
    host           text        NOT NULL,
    process_id     integer     NOT NULL,
    queues         text[]      NOT NULL,
    slots          integer     NOT NULL,
    runs_in_flight integer     NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz NOT NULL DEFAULT now(),
    stopped_at     timestamptz
);
