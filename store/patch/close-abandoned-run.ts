import { abandonedNote } from '../../domain/failures';
import type { Queryable } from '../queryable';

/**
 * Closes a patch run left 'running' by a workflow that Temporal says is closed, as failed (R-PI-2 would
 * refuse every later run). False when the run was no longer 'running' (it ended, or another caller closed it
 * first). The CLI and the run's claim both close runs through this one statement.
 */
export async function closeAbandonedRun(db: Queryable, id: string, workflowStatus: string): Promise<boolean> {
  const done = await db.query(
    `UPDATE nightshift.patch_run SET state = 'failed', error = $2, finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'`,
    [id, abandonedNote(workflowStatus)],
  );
  return Boolean(done.rowCount);
}
