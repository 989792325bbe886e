import type { Queryable } from '../queryable';

/** What one prune marked (deleted_by its workflow id): generations, their bytes, off-site copies deleted (R-BK-11). */
export async function pruneTotals(db: Queryable, prunedBy: string): Promise<{ deleted: number; bytesFreed: number; offsiteDeleted: number }> {
  const { rows } = await db.query<{ deleted: string; bytes: string; offsite: string }>(
    `SELECT count(*) AS deleted, coalesce(sum(size), 0) AS bytes, count(*) FILTER (WHERE offsite_state = 'deleted') AS offsite
       FROM nightshift.backup_generation WHERE deleted_by = $1`,
    [prunedBy],
  );
  return { deleted: Number(rows[0]!.deleted), bytesFreed: Number(rows[0]!.bytes), offsiteDeleted: Number(rows[0]!.offsite) };
}
