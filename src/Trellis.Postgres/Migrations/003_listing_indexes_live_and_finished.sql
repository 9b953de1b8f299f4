-- The listing indexes, split into live and finished runs. A run's row gets a new version when it is claimed
-- and when it finishes (the status changes, so PostgreSQL cannot update it in place), and every new version
-- is entered in every index whose condition it meets. Indexed for all runs, the three listing indexes took
-- 9 of the 14 index entries a run wrote over its three versions, much of the database's work on a queue of
-- short runs.
-- Split, a live run (pending or running) is in one listing index, and a run is entered in the three others
-- once, when it finishes. ListRunsAsync reads the live and the finished runs apart and merges them.
DROP INDEX {schema}.runs_by_status;
DROP INDEX {schema}.runs_by_workflow;
DROP INDEX {schema}.runs_by_created;

-- Live runs, newest first (any filter on them is applied on the fly: they are as many as the backlog).
CREATE INDEX runs_live_by_created ON {schema}.runs (created_at DESC) WHERE completed_at IS NULL;

-- Finished runs (completed_at is set exactly then: constraint runs_finished_have_completed_at), newest first:
-- by status, by workflow, and all of them.
CREATE INDEX runs_finished_by_status ON {schema}.runs (status, created_at DESC) WHERE completed_at IS NOT NULL;
CREATE INDEX runs_finished_by_workflow ON {schema}.runs (workflow_name, created_at DESC) WHERE completed_at IS NOT NULL;
CREATE INDEX runs_finished_by_created ON {schema}.runs (created_at DESC) WHERE completed_at IS NOT NULL;
