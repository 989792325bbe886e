import type { Queryable } from '../queryable';

/**
 * Records a dossier's restore point in the run's ledger (R-PI-11), before any patch is applied to it. A
 * restore point already recorded is kept (a retry never replaces it). False when the item is not pending in
 * a running run (closed as abandoned meanwhile) or holds another restore point.
 */
export async function recordRestorePoint(db: Queryable, runId: number, code: string, generationId: number, state: 'taken' | 'reused'): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.patch_run_item i
        SET restore_point = $3, restore_point_state = $4, restore_point_at = now()
       FROM nightshift.patch_run r
      WHERE i.run_id = $1 AND i.code = $2 AND i.status = 'pending' AND (i.restore_point IS NULL OR i.restore_point = $3)
        AND r.id = i.run_id AND r.state = 'running'`,
    [runId, code, generationId, state],
  );
  return Boolean(rowCount);
}

/** The restore point could not be taken: the dossier is not patched (its item then fails with the reason). */
export async function markRestorePointFailed(db: Queryable, runId: number, code: string): Promise<void> {
  await db.query(
    `UPDATE nightshift.patch_run_item SET restore_point_state = 'failed', restore_point_at = now()
      WHERE run_id = $1 AND code = $2 AND status = 'pending' AND restore_point IS NULL`,
    [runId, code],
  );
}
