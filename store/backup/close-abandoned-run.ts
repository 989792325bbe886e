import type { Queryable } from '../queryable';

/** Marks a running backup run failed with `note` (its workflow is gone); a run already ended is left as it is. */
export async function closeAbandonedRun(db: Queryable, runId: string, note: string): Promise<void> {
  await db.query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now(), note = $2 WHERE id = $1 AND state = 'running'`, [runId, note]);
}
