import type { Queryable } from '../queryable';
import { USABLE_RESTORE_POINT } from './restore-points-sql';
import type { RollbackScope } from './rollback-scope';

/**
 * The run's selection, written once as pending items (code, the patch run, the generation to restore): the
 * chunks page them and each turns ok or failed. A retried call adds nothing (ON CONFLICT). Returns how many
 * the run holds.
 */
export async function insertRollbackItems(db: Queryable, runId: number, scope: RollbackScope): Promise<number> {
  const [source, params]: [string, unknown[]] =
    scope.kind === 'codes'
      ? [
          `SELECT DISTINCT ON (i.code) i.code, i.run_id, i.restore_point FROM nightshift.patch_run_item i
            WHERE ${USABLE_RESTORE_POINT} AND i.code = ANY ($2::text[]) ORDER BY i.code, i.run_id DESC`,
          [scope.codes],
        ]
      : scope.kind === 'run'
        ? [
            `SELECT i.code, i.run_id, i.restore_point FROM nightshift.patch_run_item i
              WHERE ${USABLE_RESTORE_POINT} AND i.run_id = $2 AND (NOT $3::boolean OR i.status = 'failed')`,
            [scope.patchRun, scope.failedOnly],
          ]
        : [
            `SELECT i.code, i.run_id, i.restore_point FROM nightshift.patch_rollback_item f
               JOIN nightshift.patch_run_item i ON i.run_id = f.patch_run AND i.code = f.code
              WHERE f.run_id = $2 AND f.status = 'failed' AND ${USABLE_RESTORE_POINT}`,
            [scope.retryOf],
          ];
  await db.query(
    `INSERT INTO nightshift.patch_rollback_item (run_id, code, patch_run, generation_id)
     SELECT $1, s.code, s.run_id, s.restore_point FROM (${source}) s
     ON CONFLICT (run_id, code) DO NOTHING`,
    [runId, ...params],
  );
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_rollback_item WHERE run_id = $1', [runId]);
  return rows[0]!.n;
}
