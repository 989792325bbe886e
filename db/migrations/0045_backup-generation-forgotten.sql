-- Up Migration
-- R-BK-11, as restic's `forget ID` / pgBackRest's `expire --set`: `nightshift backup forget CODE --at DATE` marks one
-- kept generation (a known-corrupt one kept by a monthly slot, say) for the next prune, which deletes it whatever the
-- retention slots say, never the only one of its kind a restore can read, never while a lease holds it. When and by
-- whom, for the audit trail; `--undo` clears it while the prune has not run.
ALTER TABLE nightshift.backup_generation ADD COLUMN forgotten_at timestamptz, ADD COLUMN forgotten_by text;

-- Down Migration
ALTER TABLE nightshift.backup_generation DROP COLUMN forgotten_at, DROP COLUMN forgotten_by;
