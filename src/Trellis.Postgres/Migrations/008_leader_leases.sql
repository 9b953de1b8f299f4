-- A service that must run on one worker at a time (cron, retention) runs on the holder of a row of this table: who
-- holds it (a worker id and a process instance), since when, and until when on the database's clock.
CREATE TABLE {schema}.leader_leases (
    name        text        PRIMARY KEY,
    holder      text        NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
