-- Up Migration
-- R-BK-2, R-BK-11, R-BK-13: a dossier whose newest 'normal' archive was found missing was taken by the next nightly
-- batch only while that generation's record existed (selection-sql.ts UNREADABLE_NEWEST_SQL); a prune that ran first
-- (on demand, or after any batch) deleted the record, and the dossier, unmodified, fell out of every later batch with
-- no archive of its current data (none at all when that was its only generation). The prune now rewinds backup_seq
-- when it removes a dossier's newest normal record (store/dossiers/rewind-backup-seq.ts); this does the same, once, for
-- the dossiers pruned so before: backup_seq back to the change counter its newest kept normal generation saw, unset
-- when none is left (as never backed up). A dossier whose newest kept archive already holds its data is not changed;
-- one whose kept generations were pruned by the policy only (never the newest) is not either. last_backup_at stays.
-- One pass: the pruned normal generations grouped by dossier, each probed once for its newest kept one.
UPDATE nightshift.dossier d
   SET backup_seq = CASE WHEN kept.change_seq IS NULL THEN NULL ELSE least(d.backup_seq, kept.change_seq) END
  FROM (SELECT p.code, max(p.snapshot_at) AS snapshot_at
          FROM nightshift.backup_generation p
         WHERE p.deleted_at IS NOT NULL AND p.kind = 'normal'
         GROUP BY p.code) lost
  LEFT JOIN LATERAL (SELECT g.snapshot_at, g.change_seq FROM nightshift.backup_generation g
                      WHERE g.code = lost.code AND g.kind = 'normal' AND g.deleted_at IS NULL
                      ORDER BY g.snapshot_at DESC, g.id DESC LIMIT 1) kept ON true
 WHERE d.code = lost.code AND d.backup_seq IS NOT NULL
   AND (kept.snapshot_at IS NULL OR kept.snapshot_at < lost.snapshot_at)
   AND d.backup_seq IS DISTINCT FROM (CASE WHEN kept.change_seq IS NULL THEN NULL ELSE least(d.backup_seq, kept.change_seq) END);

-- Down Migration
-- Nothing to undo: a dossier this marked has been backed up again since, or still needs it.
SELECT 1;
