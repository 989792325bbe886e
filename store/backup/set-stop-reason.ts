import type { Queryable } from '../queryable';

/** The destination stopped the run: the first reason stays (the other chunks read it and stop too). */
export async function setStopReason(db: Queryable, runId: number, reason: string): Promise<void> {
  await db.query(`UPDATE nightshift.backup_run SET stop_reason = coalesce(stop_reason, $2) WHERE id = $1 AND state = 'running'`, [runId, reason]);
}
