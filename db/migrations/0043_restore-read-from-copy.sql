-- Up Migration
-- A restore run says which dossiers it read from their generation's off-site copy rather than its local file (R-BK-14,
-- drill E: after a lost disk an operator must know where the data came from). Recorded with the item's 'ok', in the
-- restore's own transaction: a worker killed at any moment leaves the dossier restored and said, or neither.
ALTER TABLE nightshift.restore_run_item
  -- the copy read, `{bucket}/{key}`; null: the local file (or not restored)
  ADD COLUMN read_from_copy text,
  -- why the copy and not the file: asked with --from offsite, the file not on the worker, found damaged...
  ADD COLUMN read_from_copy_why text;
-- the run's note lists them by code: as few as the copies read
CREATE INDEX restore_run_item_from_copy ON nightshift.restore_run_item (run_id, code) WHERE read_from_copy IS NOT NULL;

-- Down Migration
DROP INDEX nightshift.restore_run_item_from_copy;
ALTER TABLE nightshift.restore_run_item DROP COLUMN read_from_copy, DROP COLUMN read_from_copy_why;
