import type { Queryable } from '../queryable';

/** Whether the run took restore points: a retry of its failed dossiers takes them too. */
export async function runTakesRestorePoints(db: Queryable, runId: number): Promise<boolean> {
  const { rows } = await db.query<{ restore_points: boolean }>('SELECT restore_points FROM nightshift.patch_run WHERE id = $1', [runId]);
  return rows[0]?.restore_points ?? false;
}

/** Records that the run takes restore points (R-PI-11: the window payload backup+patch). */
export async function markRunRestorePoints(db: Queryable, runId: number): Promise<void> {
  await db.query('UPDATE nightshift.patch_run SET restore_points = true WHERE id = $1', [runId]);
}
