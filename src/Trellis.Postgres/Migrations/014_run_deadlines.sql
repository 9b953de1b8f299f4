-- A run's deadline (StartOptions.Timeout): set on the database's clock when the run is created; a run still unfinished
-- then is failed with Trellis.RunTimedOutException, wherever it is: running (its worker stops it), pending, or waiting (its
-- wake-up time is never later than its deadline, so the timer wakes it to fail). Nullable: no rewrite.
ALTER TABLE {schema}.runs ADD COLUMN deadline_at timestamptz;
