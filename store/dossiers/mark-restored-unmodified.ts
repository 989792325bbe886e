import type { Queryable } from '../queryable';

/**
 * A dossier just restored from its newest kept generation's own file (`generationId`, a 'normal' one: B{code}.SVG holds
 * it) is what that generation holds: not modified since its last backup (R-BK-2), so the next nightly batch does not back
 * up again every dossier of a lost database brought back (drill D2). backup_seq takes the dossier's change counter as the
 * restore's transaction leaves it, last_backup_at the generation's time. A restore of an older generation, of another
 * kind, under another code or from an off-site copy leaves it modified (the batch writes the newest archive again).
 * In the restore's transaction, after its rows are loaded; false when the dossier stays modified.
 */
export async function markRestoredUnmodified(db: Queryable, code: string, generationId: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.dossier d SET backup_seq = d.change_seq, last_backup_at = g.snapshot_at
       FROM nightshift.backup_generation g
      WHERE d.code = $1 AND g.id = $2 AND g.code = d.code AND g.kind = 'normal' AND g.deleted_at IS NULL AND g.change_seq IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation n
                         WHERE n.code = g.code AND n.deleted_at IS NULL AND (n.snapshot_at, n.id) > (g.snapshot_at, g.id))`,
    [code, generationId],
  );
  return (rowCount ?? 0) > 0;
}
