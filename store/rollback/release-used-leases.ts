import type { Queryable } from '../queryable';

/**
 * At the end of a rollback run, the leases still held on the restore points it used (restored: `ok`): the patch run's
 * (`restore-point:N`) and this run's own (`rollback:N`). Each restore lets them go after its commit; a worker killed
 * between the two left them behind (the retried chunk skips a dossier already restored).
 */
export async function releaseUsedRestorePointLeases(db: Queryable, runId: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM nightshift.backup_generation_lease l
      USING nightshift.patch_rollback_item f
      WHERE f.run_id = $1 AND f.status = 'ok' AND l.generation_id = f.generation_id
        AND l.holder IN ('restore-point:' || f.patch_run, 'rollback:' || f.run_id)`,
    [runId],
  );
  return rowCount ?? 0;
}
