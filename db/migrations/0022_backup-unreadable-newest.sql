-- Up Migration
-- R-BK-11, R-BK-13: a dossier whose newest kept generation a verification found corrupt or missing (a damaged
-- disk, a lost disk) has no sound archive of its current data, modified or not: the next nightly batch takes it
-- again (store/backup/selection-sql.ts UNREADABLE_NEWEST_SQL). The selection reads such generations once per
-- statement through this index, as small as what verification found wrong, never a probe per dossier.
CREATE INDEX backup_generation_unreadable ON nightshift.backup_generation (code, snapshot_at)
  WHERE deleted_at IS NULL AND kind = 'normal' AND verify_state IN ('corrupt', 'missing');

-- Down Migration
DROP INDEX nightshift.backup_generation_unreadable;
