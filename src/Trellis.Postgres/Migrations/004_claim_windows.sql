-- Claim windows: a worker may claim runs by row lock alone, inside a transaction it keeps open while the runs
-- execute, and write their outcomes in that same transaction; a run that finishes there gets two row versions
-- (its insert and its outcome) instead of three. While the transaction is open, such runs are still 'pending'
-- in the table, and a crash rolls the transaction back without counting an attempt. This table counts it: a
-- worker records each window's runs and its transaction id here (committed apart) before any of them starts;
-- the window's own transaction deletes the row when it commits. A row whose transaction is no longer in
-- progress belongs to a window that never committed, and the next claim (or lease recovery) charges an attempt
-- to those of its runs that are still pending before anyone runs them again.
CREATE TABLE {schema}.claim_windows (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xact xid8 NOT NULL,
    worker_id text NOT NULL,
    run_ids text[] NOT NULL,
    opened_at timestamptz NOT NULL DEFAULT now()
);
