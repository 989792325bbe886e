import type { Queryable } from '../queryable';

/**
 * What one prune did (R-BK-11, R-BK-14), from the rows: the generations it finished deleting (file and off-site
 * copy: one whose object is still there counts for no prune until a later one deletes it, and then for that
 * one), the bytes of the files it pruned, the off-site objects it deleted.
 */
export async function pruneTotals(db: Queryable, prunedBy: string): Promise<{ deleted: number; bytesFreed: number; offsiteDeleted: number }> {
  const { rows } = await db.query<{ deleted: string; bytes: string; offsite: string }>(
    `SELECT count(*) FILTER (WHERE coalesce(offsite_deleted_by, deleted_by) = $1
                               AND NOT (offsite_state IN ('copied', 'failed') AND offsite_key IS NOT NULL)) AS deleted,
            coalesce(sum(size) FILTER (WHERE deleted_by = $1), 0) AS bytes,
            count(*) FILTER (WHERE offsite_deleted_by = $1) AS offsite
       FROM nightshift.backup_generation WHERE deleted_by = $1 OR offsite_deleted_by = $1`,
    [prunedBy],
  );
  return { deleted: Number(rows[0]!.deleted), bytesFreed: Number(rows[0]!.bytes), offsiteDeleted: Number(rows[0]!.offsite) };
}
