import type { Queryable } from '../queryable';

/**
 * Marks a dossier's restore point as being taken, before its backup starts (R-PI-11): a worker killed
 * during the backup leaves 'taking' and its start time, so the retry adopts the generation that backup
 * completed instead of taking a second one. A retry keeps the first start time. Only a pending item of a
 * running run: false otherwise.
 */
export async function markRestorePointTaking(db: Queryable, runId: number, code: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.patch_run_item i
        SET restore_point_state = 'taking',
            restore_point_at = CASE WHEN i.restore_point_state = 'taking' THEN i.restore_point_at ELSE now() END
       FROM nightshift.patch_run r
      WHERE i.run_id = $1 AND i.code = $2 AND i.status = 'pending' AND i.restore_point IS NULL
        AND r.id = i.run_id AND r.state = 'running'`,
    [runId, code],
  );
  return Boolean(rowCount);
}
