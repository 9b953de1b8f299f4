-- Claim windows: a worker may claim runs by row lock alone, inside a transaction it keeps open while the runs
-- execute, and write their outcomes in that same transaction; a run that finishes there gets two row versions
-- (its insert and its outcome) instead of three. While the transaction is open, such runs are still 'pending'
-- in the table, and a crash rolls the transaction back without counting an attempt. This table counts it: a
-- worker records each window's runs here (committed) before any of them starts, the window's own transaction
-- deletes the row when it commits, and a row left behind past expires_at belongs to a window that never
-- committed. Lease recovery then charges an attempt to those of its runs that are still pending.
CREATE TABLE {schema}.claim_windows (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    worker_id text NOT NULL,
    run_ids text[] NOT NULL,
    opened_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX claim_windows_by_expiry ON {schema}.claim_windows (expires_at);
