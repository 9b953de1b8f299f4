-- The trace context of the caller that started a run (W3C traceparent and tracestate), so that the run's spans join
-- the caller's trace on whichever worker, in whichever process, executes or resumes it. Nullable: no rewrite.
ALTER TABLE {schema}.runs ADD COLUMN trace_parent text, ADD COLUMN trace_state text;
