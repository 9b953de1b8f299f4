-- The history is written by the hot statements (a claim, a checkpoint batch, a claim window's close): each row costs
-- only its heap tuple and its one index. The foreign key to runs made every row a lookup and a lock of its run, and the
-- primary key a second index; a run's history is read, and deleted with the run, through history_by_run, and ids come
-- from their identity sequence, unique without an index. Deleting runs (retention) deletes their history explicitly.
ALTER TABLE {schema}.history DROP CONSTRAINT history_run_id_fkey;
ALTER TABLE {schema}.history DROP CONSTRAINT history_pkey;
