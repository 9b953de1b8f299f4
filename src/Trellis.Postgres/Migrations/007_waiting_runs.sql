-- Runs can wait without a worker (a timer, an event, their children): status 'waiting', ready again at their
-- scheduled_at ('infinity' while they wait for something without a timeout), with what they wait for in wait_reason.
ALTER TABLE {schema}.runs DROP CONSTRAINT runs_status_check;
ALTER TABLE {schema}.runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('pending', 'running', 'waiting', 'completed', 'failed', 'cancelled'));
ALTER TABLE {schema}.runs ADD COLUMN wait_reason text;
