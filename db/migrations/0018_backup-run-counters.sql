-- Up Migration
-- A backup run's ledger totals on its own row (issue 11): the statements that add ledger rows (a dossier's outcome,
-- the 'not_done' rows of a stopped batch) add them here in the same statement, so that the details' refresh, every
-- few seconds while a batch runs, reads one row instead of counting every row of the run (a cost that grew with
-- the dossiers done: 80,000 rows per read at the end of a 100,000-dossier batch). NULL on runs claimed before this
-- migration: they are still counted from their rows.
ALTER TABLE nightshift.backup_run ADD COLUMN items_done integer, ADD COLUMN items_failed integer, ADD COLUMN last_item_at timestamptz;
ALTER TABLE nightshift.backup_run ALTER COLUMN items_done SET DEFAULT 0, ALTER COLUMN items_failed SET DEFAULT 0;

-- Down Migration
ALTER TABLE nightshift.backup_run DROP COLUMN last_item_at, DROP COLUMN items_failed, DROP COLUMN items_done;
