import type { RollbackScope } from './rollback-scope';

/**
 * The restore points a rollback may use (R-PI-11): a patch run item whose restore point was taken or reused
 * (db/migrations/0015) and that no rollback has used yet. Aliased `i` over nightshift.patch_run_item.
 */
export const USABLE_RESTORE_POINT = `i.restore_point IS NOT NULL AND i.restore_point_state IN ('taken', 'reused') AND i.rolled_back_at IS NULL`;

/**
 * The patch run item whose restore point a rollback of `scope` would use, one per dossier (codes: the newest
 * unused; a run: that run's; a retry: the failed dossiers' of the rollback retried), as the selection takes them
 * (insert-items.ts): columns code, run_id, to_level, change_seq_after, restore_point. Its parameters from $1.
 */
export function restorePointPick(scope: RollbackScope): { sql: string; params: unknown[] } {
  const columns = 'i.code, i.run_id, i.to_level, i.change_seq_after, i.restore_point';
  if (scope.kind === 'codes') {
    return {
      sql: `SELECT DISTINCT ON (i.code) ${columns} FROM nightshift.patch_run_item i
             WHERE ${USABLE_RESTORE_POINT} AND i.code = ANY ($1::text[]) ORDER BY i.code, i.run_id DESC`,
      params: [scope.codes],
    };
  }
  if (scope.kind === 'run') {
    return {
      sql: `SELECT ${columns} FROM nightshift.patch_run_item i
             WHERE ${USABLE_RESTORE_POINT} AND i.run_id = $1::bigint AND (NOT $2::boolean OR i.status = 'failed')`,
      params: [scope.patchRun, scope.failedOnly],
    };
  }
  return {
    sql: `SELECT ${columns} FROM nightshift.patch_rollback_item f
            JOIN nightshift.patch_run_item i ON i.run_id = f.patch_run AND i.code = f.code
           WHERE f.run_id = $1::bigint AND f.status = 'failed' AND ${USABLE_RESTORE_POINT}`,
    params: [scope.retryOf],
  };
}
