import type { Queryable } from '../queryable';

/**
 * In the restore's transaction: the item's row locked, its status and its run's state. A second attempt restoring
 * the same dossier (a zombie activity, a retried chunk) waits here and then finds it ended.
 */
export async function lockRestoreItem(tx: Queryable, runId: number, code: string): Promise<{ status: string; runState: string } | undefined> {
  const { rows } = await tx.query<{ status: string; run_state: string }>(
    `SELECT i.status, r.state AS run_state FROM nightshift.restore_run_item i JOIN nightshift.restore_run r ON r.id = i.run_id
      WHERE i.run_id = $1 AND i.code = $2 FOR UPDATE OF i`,
    [runId, code],
  );
  return rows[0] && { status: rows[0].status, runState: rows[0].run_state };
}
