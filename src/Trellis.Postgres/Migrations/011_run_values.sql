-- Values a run publishes for callers to read (SetValueAsync): the latest value per run and key.
CREATE TABLE {schema}.run_values (
    run_id     text COLLATE "C" NOT NULL REFERENCES {schema}.runs (id) ON DELETE CASCADE,
    key        text        NOT NULL,
    value      jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, key)
);
