-- Run control (TrellisClient.RetryAsync, ResumeAsync, ForkAsync).
-- A fork names the run it came from and the step position it runs again from; its steps before that position are
-- copies of the source's rows (epoch 0, which no claim has). The run's timeout (StartOptions.Timeout) is kept, so that a
-- retried, resumed or forked run gets the whole of it again from that moment. Nullable: no rewrite.
ALTER TABLE {schema}.runs ADD COLUMN forked_from text COLLATE "C";
ALTER TABLE {schema}.runs ADD COLUMN forked_at_step integer;
ALTER TABLE {schema}.runs ADD COLUMN timeout interval;
UPDATE {schema}.runs SET timeout = deadline_at - created_at WHERE deadline_at IS NOT NULL;

-- A run's forks.
CREATE INDEX runs_forks ON {schema}.runs (forked_from) WHERE forked_from IS NOT NULL;
