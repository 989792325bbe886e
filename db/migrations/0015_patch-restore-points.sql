-- Up Migration
-- Restore points (R-PI-11, issue 14): a run with restore points (the window payload `backup+patch`) takes a
-- verified generation of each dossier it will change just before patching it, or reuses the dossier's newest
-- verified generation when the dossier is unmodified since (same change_seq). The item records it BEFORE any
-- patch: a dossier whose restore point failed is not patched, and a retried chunk resumes from the row
-- ('taking' left by a killed worker: the generation it completed is adopted, never a second one taken).
ALTER TABLE nightshift.patch_run ADD COLUMN restore_points boolean NOT NULL DEFAULT false;
ALTER TABLE nightshift.patch_run_item ADD COLUMN restore_point bigint REFERENCES nightshift.backup_generation (id);
ALTER TABLE nightshift.patch_run_item ADD COLUMN restore_point_state text
  CHECK (restore_point_state IN ('taking', 'taken', 'reused', 'failed'));
ALTER TABLE nightshift.patch_run_item ADD COLUMN restore_point_at timestamptz;
CREATE INDEX patch_run_item_restore_point ON nightshift.patch_run_item (restore_point) WHERE restore_point IS NOT NULL;

-- Down Migration
DROP INDEX nightshift.patch_run_item_restore_point;
ALTER TABLE nightshift.patch_run_item DROP COLUMN restore_point_at;
ALTER TABLE nightshift.patch_run_item DROP COLUMN restore_point_state;
ALTER TABLE nightshift.patch_run_item DROP COLUMN restore_point;
ALTER TABLE nightshift.patch_run DROP COLUMN restore_points;
