import type { Queryable } from '../queryable';

/** Records that the run takes restore points (R-PI-11: the window payload backup+patch). */
export async function markRunRestorePoints(db: Queryable, runId: number): Promise<void> {
  await db.query('UPDATE nightshift.patch_run SET restore_points = true WHERE id = $1', [runId]);
}
