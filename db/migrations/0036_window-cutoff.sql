-- Up Migration
-- SSM's cutoff (`maintenance schedule --cutoff 30m`): the window's payload is not started with less than this many
-- seconds left before the planned end. Kept in the row so that `maintenance list` shows it; NULL: no cutoff.
ALTER TABLE nightshift.maintenance_window ADD COLUMN cutoff_seconds integer CHECK (cutoff_seconds > 0);

-- Down Migration
ALTER TABLE nightshift.maintenance_window DROP COLUMN cutoff_seconds;
