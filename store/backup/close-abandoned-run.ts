import { abandonedNote } from '../../domain/failures';
import type { Queryable } from '../queryable';

/**
 * Marks a running backup run failed because Temporal says its workflow is closed (R-BK-1); a run already
 * ended is left as it is (false: its workflow ended it meanwhile). The CLI and the batch's claim both close runs
 * through this one statement.
 */
export async function closeAbandonedRun(db: Queryable, runId: string, workflowStatus: string): Promise<boolean> {
  const r = await db.query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now(), updated_at = now(), note = $2 WHERE id = $1 AND state = 'running'`, [
    runId,
    abandonedNote(workflowStatus),
  ]);
  return (r.rowCount ?? 0) > 0;
}
