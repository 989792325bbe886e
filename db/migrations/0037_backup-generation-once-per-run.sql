-- Up Migration
-- R-BK-1, R-BK-11: a batch run records at most one generation of a dossier. With an off-site bucket a dossier's
-- ledger item waits for the copy, so the first statement of a backup's snapshot (which reads the ledger) cannot see
-- a generation the run's other attempt has just recorded: an attempt superseded while its worker was cut off
-- (frozen, partitioned) could come back and record a second generation of the same change, which then took a
-- retention slot and an object of its own. The database now refuses it (the engine rolls the second back and removes
-- its file; the batch copies the run's one generation).
-- A database that already holds such a pair keeps both rows (rows are the audit trail: never rewritten here): the
-- index leaves out the later row of each pair (the first stays in it, so that run refuses a third as any other does).
DO $$
DECLARE
  later_duplicates bigint[];
BEGIN
  -- one sort of the table (millions of rows: 100,000 dossiers kept a month), not a lookup of the run's rows per row
  SELECT coalesce(array_agg(g.id ORDER BY g.id), '{}') INTO later_duplicates
    FROM (SELECT id, row_number() OVER (PARTITION BY run_id, code ORDER BY id) AS nth
            FROM nightshift.backup_generation WHERE run_id IS NOT NULL) g
   WHERE g.nth > 1;
  IF cardinality(later_duplicates) = 0 THEN
    CREATE UNIQUE INDEX backup_generation_once_per_run ON nightshift.backup_generation (run_id, code) WHERE run_id IS NOT NULL;
  ELSE
    EXECUTE format(
      'CREATE UNIQUE INDEX backup_generation_once_per_run ON nightshift.backup_generation (run_id, code) WHERE run_id IS NOT NULL AND id <> ALL (%L::bigint[])',
      later_duplicates);
  END IF;
END
$$;

-- Down Migration
DROP INDEX nightshift.backup_generation_once_per_run;
