-- Finds the waiting runs whose time has come, and the next one due, without reading the rest of the runs.
CREATE INDEX runs_waiting ON {schema}.runs (scheduled_at) WHERE status = 'waiting';
