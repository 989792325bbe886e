import type { Queryable } from '../queryable';
import { USABLE_RESTORE_POINT } from './restore-points-sql';

/** A patch run as a rollback's scope sees it: whether it exists, its dossiers with an unused restore point (all, failed), and those already rolled back. */
export async function patchRunRestorePoints(
  db: Queryable,
  patchRun: number,
): Promise<{ exists: boolean; usable: number; usableFailed: number; rolledBack: number; rolledBackFailed: number; state: string | null }> {
  const { rows } = await db.query<{ state: string | null; usable: number; usable_failed: number; rolled_back: number; rolled_back_failed: number }>(
    `SELECT r.state,
            (SELECT count(*) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND ${USABLE_RESTORE_POINT})::int AS usable,
            (SELECT count(*) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed' AND ${USABLE_RESTORE_POINT})::int AS usable_failed,
            (SELECT count(*) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.rolled_back_at IS NOT NULL)::int AS rolled_back,
            (SELECT count(*) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed' AND i.rolled_back_at IS NOT NULL)::int AS rolled_back_failed
       FROM nightshift.patch_run r WHERE r.id = $1`,
    [patchRun],
  );
  const r = rows[0];
  return r
    ? { exists: true, state: r.state, usable: r.usable, usableFailed: r.usable_failed, rolledBack: r.rolled_back, rolledBackFailed: r.rolled_back_failed }
    : { exists: false, state: null, usable: 0, usableFailed: 0, rolledBack: 0, rolledBackFailed: 0 };
}
