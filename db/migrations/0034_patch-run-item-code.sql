-- Up Migration
-- One dossier's patch runs, newest first: `patch history CODE` (drill M) and a rollback by codes (its restore point
-- pick, R-PI-11) read patch_run_item by code, which only had its (run_id, code) key: a scan of every run's items, one
-- row per dossier per run (100,000 dossiers and a hundred runs: ten million rows). Built inside the migration's
-- transaction (writes to patch_run_item wait for it): migrations run at a worker's start, before it takes work.
CREATE INDEX patch_run_item_code ON nightshift.patch_run_item (code, run_id);

-- Down Migration
DROP INDEX nightshift.patch_run_item_code;
