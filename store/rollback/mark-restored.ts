import type { Queryable } from '../queryable';

/**
 * In the restore's transaction: the dossier's rollback item ok (levels before and after), and the patch
 * run's item marked rolled back by this run: its restore point is used once (R-PI-11).
 */
export async function markRollbackRestored(tx: Queryable, runId: number, code: string, fromLevel: number | null, toLevel: number): Promise<void> {
  await tx.query(
    `WITH f AS (
       UPDATE nightshift.patch_rollback_item SET status = 'ok', from_level = $3, to_level = $4, error = NULL, failure_type = NULL, finished_at = now()
        WHERE run_id = $1 AND code = $2 AND status = 'pending' RETURNING patch_run)
     UPDATE nightshift.patch_run_item i SET rolled_back_at = now(), rolled_back_by = $1
       FROM f WHERE i.run_id = f.patch_run AND i.code = $2`,
    [runId, code, fromLevel, toLevel],
  );
  await tx.query('UPDATE nightshift.patch_rollback_run SET updated_at = now() WHERE id = $1', [runId]);
}
