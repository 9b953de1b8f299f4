-- Streams a run writes (WriteStreamAsync) for callers to read as they grow: one row per write, at the write's step
-- position, and a row with closed = true where the run closed the stream.
CREATE TABLE {schema}.run_streams (
    run_id     text COLLATE "C" NOT NULL REFERENCES {schema}.runs (id) ON DELETE CASCADE,
    key        text        NOT NULL,
    seq        int         NOT NULL,
    value      jsonb,
    closed     boolean     NOT NULL DEFAULT false,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, key, seq)
);
