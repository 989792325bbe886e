-- Up Migration
-- Run ledgers after fault injection (issue 10).
-- Backup batch: a batch stopped because its destination is full or unwritable records the dossiers it
-- did not attempt as 'not_done' (no attempt: 0), so that `backup retry` and the next run (R-BK-4) take
-- them first; the run keeps why it stopped (stop_reason), which the report mail repeats.
ALTER TABLE nightshift.backup_run_item DROP CONSTRAINT backup_run_item_status_check;
ALTER TABLE nightshift.backup_run_item ADD CONSTRAINT backup_run_item_status_check CHECK (status IN ('ok', 'in_use', 'failed', 'not_done'));
ALTER TABLE nightshift.backup_run_item DROP CONSTRAINT backup_run_item_attempts_check;
ALTER TABLE nightshift.backup_run_item ADD CONSTRAINT backup_run_item_attempts_check CHECK (attempts >= 0);
ALTER TABLE nightshift.backup_run ADD COLUMN stop_reason text;

-- Patch run: a dossier's row is written 'pending' when the run first touches it, with its level at
-- that moment (the level at the run's start); a retried chunk keeps that from_level, so the ledger
-- says what this run applied even when a worker died between a patch and its ledger row.
ALTER TABLE nightshift.patch_run_item DROP CONSTRAINT patch_run_item_status_check;
ALTER TABLE nightshift.patch_run_item ADD CONSTRAINT patch_run_item_status_check CHECK (status IN ('pending', 'ok', 'failed'));

-- Down Migration
DELETE FROM nightshift.patch_run_item WHERE status = 'pending';
ALTER TABLE nightshift.patch_run_item DROP CONSTRAINT patch_run_item_status_check;
ALTER TABLE nightshift.patch_run_item ADD CONSTRAINT patch_run_item_status_check CHECK (status IN ('ok', 'failed'));
ALTER TABLE nightshift.backup_run DROP COLUMN stop_reason;
DELETE FROM nightshift.backup_run_item WHERE status = 'not_done';
ALTER TABLE nightshift.backup_run_item DROP CONSTRAINT backup_run_item_attempts_check;
ALTER TABLE nightshift.backup_run_item ADD CONSTRAINT backup_run_item_attempts_check CHECK (attempts >= 1);
ALTER TABLE nightshift.backup_run_item DROP CONSTRAINT backup_run_item_status_check;
ALTER TABLE nightshift.backup_run_item ADD CONSTRAINT backup_run_item_status_check CHECK (status IN ('ok', 'in_use', 'failed'));
