-- Up Migration
-- R-PI-11: a rollback replaces everything written to a dossier since its restore point, and the patch itself
-- writes to it. The dossier's change counter (change_seq) as the patch run left it, recorded with the item's
-- outcome in the same statement: a change counter above it now means users (or a later run) wrote to the
-- dossier since, and `patch rollback` says so before it starts. NULL: recorded before this column, unknown.
ALTER TABLE nightshift.patch_run_item ADD COLUMN change_seq_after bigint;

-- Down Migration
ALTER TABLE nightshift.patch_run_item DROP COLUMN change_seq_after;
