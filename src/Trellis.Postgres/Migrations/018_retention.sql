-- Retention (RetentionOptions, TrellisClient.PurgeAsync) deletes finished runs with their whole family of child runs, by
-- root: a run without a parent that finished longer ago than its workflow's age.
-- The oldest finished roots of one workflow, in the order they finished (then by id: the order a round reads them in, so
-- a batch is the first entries after where the last one stopped, with no sort). Each statement reads the workflows present from
-- it too (skipping from one name to the next), so it never reads runs of a workflow that is kept. A root enters it once,
-- when it finishes (the row gets a new version then anyway: its status is indexed).
CREATE INDEX runs_finished_roots ON {schema}.runs (workflow_name, completed_at, id) WHERE completed_at IS NOT NULL AND parent_id IS NULL;

-- Messages to a run (events named 'message:<topic>', keyed by the run's id) are deleted with it, whether it received them or not.
CREATE INDEX events_messages_by_run ON {schema}.events (key) WHERE starts_with(name, 'message:');
