-- The listing indexes, rebuilt in ascending order of created_at; listings still read them newest first, by
-- scanning them backward, which a B-tree does as cheaply as forward.
-- Runs are created, and mostly finish, in the order of created_at. In a descending index every new entry
-- went to the leftmost leaf (of the index, or of its status or workflow): a leaf that is not the rightmost
-- splits in the middle, so these indexes grew half empty (1.8 times the pages of the same index ascending,
-- over 1,000,000 runs finished in order), and each entry was found by a descent from the root. Ascending,
-- new entries go to the rightmost leaf, which PostgreSQL splits to leave its pages full and, once the index
-- is two levels deep, reaches without a descent (its cached rightmost leaf).
DROP INDEX {schema}.runs_live_by_created;
DROP INDEX {schema}.runs_finished_by_status;
DROP INDEX {schema}.runs_finished_by_workflow;
DROP INDEX {schema}.runs_finished_by_created;
DROP INDEX {schema}.runs_by_correlation;

CREATE INDEX runs_live_by_created ON {schema}.runs (created_at) WHERE completed_at IS NULL;
CREATE INDEX runs_finished_by_status ON {schema}.runs (status, created_at) WHERE completed_at IS NOT NULL;
CREATE INDEX runs_finished_by_workflow ON {schema}.runs (workflow_name, created_at) WHERE completed_at IS NOT NULL;
CREATE INDEX runs_finished_by_created ON {schema}.runs (created_at) WHERE completed_at IS NOT NULL;
CREATE INDEX runs_by_correlation ON {schema}.runs (correlation_id, created_at) WHERE correlation_id IS NOT NULL;
