import type { Queryable } from '../gate/queryable';

/**
 * Closes a patch run left 'running' by a workflow that no longer runs, as failed with this error.
 * False when the run was no longer 'running' (it ended, or another caller closed it first).
 */
export async function closeAbandonedRun(db: Queryable, id: string, error: string): Promise<boolean> {
  const done = await db.query(
    `UPDATE nightshift.patch_run SET state = 'failed', error = $2, finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'`,
    [id, error],
  );
  return Boolean(done.rowCount);
}
