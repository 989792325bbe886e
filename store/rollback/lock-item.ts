import type { Queryable } from '../queryable';

/**
 * In the restore's transaction: the item's row locked, its status and its run's state. A second attempt
 * restoring the same dossier (a zombie activity, a retried chunk) waits here and then finds it ended.
 */
export async function lockRollbackItem(tx: Queryable, runId: number, code: string): Promise<{ status: string; runState: string } | undefined> {
  const { rows } = await tx.query<{ status: string; run_state: string }>(
    `SELECT f.status, r.state AS run_state FROM nightshift.patch_rollback_item f JOIN nightshift.patch_rollback_run r ON r.id = f.run_id
      WHERE f.run_id = $1 AND f.code = $2 FOR UPDATE OF f`,
    [runId, code],
  );
  return rows[0] && { status: rows[0].status, runState: rows[0].run_state };
}
