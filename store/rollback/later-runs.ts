import type { Queryable } from '../queryable';
import type { RollbackScope } from './rollback-scope';
import { restorePointPick, USABLE_RESTORE_POINT } from './restore-points-sql';

/** A later patch run whose patches a rollback would undo in a dossier, and whether it can be rolled back there itself. */
export interface LaterRun {
  run: number;
  /** it took (or reused) a restore point of the dossier, not used yet: `patch rollback --run` of it takes this dossier back first */
  restorePoint: boolean;
}

/**
 * For the dossiers `codes` of a rollback of `scope`: the patch runs after the one whose restore point it would use that
 * brought them above the level that run left them at (and were not rolled back there since), newest first. Tester B:
 * the refusal said "roll back those runs first" of `patch integrate` runs that took no restore point, which a
 * rollback refuses (NoRestorePoint); the CLI now names them and says what can be done.
 */
export async function laterRunsOf(db: Queryable, scope: RollbackScope, codes: string[]): Promise<Map<string, LaterRun[]>> {
  const out = new Map<string, LaterRun[]>();
  if (!codes.length || scope.kind === 'retry') return out;
  const pick = restorePointPick(scope);
  const { rows } = await db.query<{ code: string; run: string; restore_point: boolean }>(
    `WITH pick AS (${pick.sql})
     SELECT i.code, i.run_id::text AS run, (${USABLE_RESTORE_POINT}) AS restore_point
       FROM pick p JOIN nightshift.patch_run_item i ON i.code = p.code AND i.run_id > p.run_id AND i.to_level > p.to_level AND i.rolled_back_at IS NULL
      WHERE p.code = ANY ($${pick.params.length + 1}::text[])
      ORDER BY i.code, i.run_id DESC`,
    [...pick.params, codes],
  );
  for (const r of rows) {
    const list = out.get(r.code) ?? [];
    list.push({ run: Number(r.run), restorePoint: r.restore_point });
    out.set(r.code, list);
  }
  return out;
}
