import type { Queryable } from '../queryable';

/** A rollback run whose workflow Temporal knows closed (terminated, timed out): failed as abandoned, so that it blocks no later run. */
export async function closeAbandonedRollbackRun(db: Queryable, runId: number, status: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.patch_rollback_run SET state = 'failed', error = $2, finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'`,
    [runId, `abandoned: its workflow is ${status.toLowerCase()}`],
  );
  return (rowCount ?? 0) > 0;
}
