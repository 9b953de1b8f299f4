-- Events a client publishes under a name and a key (an order id, say), and the runs that wait for them: each wait is
-- one row, open until an event reaches it (event_id) or its timeout passes (timed_out).
CREATE TABLE {schema}.events (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text        NOT NULL,
    key          text        NOT NULL,
    data         jsonb,
    published_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_name_key ON {schema}.events (name, key, published_at, id);

CREATE TABLE {schema}.event_waits (
    run_id         text COLLATE "C" NOT NULL REFERENCES {schema}.runs (id) ON DELETE CASCADE,
    seq            int         NOT NULL,
    name           text        NOT NULL,
    key            text        NOT NULL,
    effective_from timestamptz NOT NULL,
    expires_at     timestamptz,
    event_id       bigint      REFERENCES {schema}.events (id),
    received_at    timestamptz,
    timed_out      boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX event_waits_open ON {schema}.event_waits (name, key) WHERE event_id IS NULL AND NOT timed_out;
CREATE INDEX event_waits_by_event ON {schema}.event_waits (event_id) WHERE event_id IS NOT NULL;
