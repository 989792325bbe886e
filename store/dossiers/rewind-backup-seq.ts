import type { Queryable } from '../queryable';

/**
 * R-BK-2, R-BK-11: the prune just removed (`pruned`: the ids it marked) the record of the dossier's newest 'normal'
 * generation (nothing was left of it: its file found missing, no off-site copy). The dossier's backup_seq goes back to
 * the change counter its newest kept 'normal' generation saw, or is unset when none is left (as never backed up): the
 * next nightly batch takes it again when its data is not in an archive it still has (`modified since backup`), where
 * before the record went the selection's unreadable-newest rule did. last_backup_at stays (it only moves forward: the
 * date of the last backup taken). Migration 0031 did the same, once, for the dossiers pruned so before it.
 * In the prune's transaction, after the mark; a dossier whose newest normal record stays is not written.
 */
export async function rewindBackupSeqToKept(db: Queryable, code: string, pruned: number[]): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.dossier d
        SET backup_seq = k.seq
       FROM (SELECT CASE WHEN kept.change_seq IS NULL THEN NULL ELSE least(d0.backup_seq, kept.change_seq) END AS seq
               FROM nightshift.dossier d0
               LEFT JOIN LATERAL (SELECT g.change_seq FROM nightshift.backup_generation g
                                   WHERE g.code = d0.code AND g.kind = 'normal' AND g.deleted_at IS NULL
                                   ORDER BY g.snapshot_at DESC, g.id DESC LIMIT 1) kept ON true
              WHERE d0.code = $1) k
      WHERE d.code = $1 AND d.backup_seq IS NOT NULL AND d.backup_seq IS DISTINCT FROM k.seq
        AND EXISTS (SELECT 1 FROM nightshift.backup_generation x
                     WHERE x.id = ANY ($2::bigint[]) AND x.code = $1 AND x.kind = 'normal' AND x.deleted_at IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                                        WHERE n.code = $1 AND n.kind = 'normal' AND n.deleted_at IS NULL
                                          AND (n.snapshot_at, n.id) > (x.snapshot_at, x.id)))`,
    [code, pruned],
  );
  return (rowCount ?? 0) > 0;
}
