import type { Queryable } from '../queryable';

/** Whether the run is still running (a run closed as abandoned takes no late result). */
export async function runIsRunning(db: Queryable, runId: number): Promise<boolean> {
  return Boolean((await db.query(`SELECT 1 FROM nightshift.patch_run WHERE id = $1 AND state = 'running'`, [runId])).rowCount);
}
