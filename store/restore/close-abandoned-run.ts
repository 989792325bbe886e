import { abandonedNote } from '../../domain/failures';
import type { Queryable } from '../queryable';

/** A running restore run whose workflow Temporal knows closed (terminated, timed out): failed, its pending dossiers with it. */
export async function closeAbandonedRestoreRun(db: Queryable, runId: number, workflowStatus: string): Promise<void> {
  const why = abandonedNote(workflowStatus);
  await db.query(
    `UPDATE nightshift.restore_run_item SET status = 'failed', failure_type = 'NotDone', error = $2, finished_at = now() WHERE run_id = $1 AND status = 'pending'`,
    [runId, `not restored: the run was ${why}`],
  );
  await db.query(`UPDATE nightshift.restore_run SET state = 'failed', error = $2, finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'`, [runId, why]);
}
