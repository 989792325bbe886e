-- Up Migration
-- R-MW-10, R-OP-1: what became of a window once it ended, in one line (`maintenance list`): a window reopened after a
-- failure, or whose payload or hand-started runs ended with dossiers in error, is not only "completed". Written by
-- the window with its final state; NULL for windows that ended before this column (and for one that went well).
ALTER TABLE nightshift.maintenance_window ADD COLUMN outcome text;

-- Down Migration
ALTER TABLE nightshift.maintenance_window DROP COLUMN outcome;
