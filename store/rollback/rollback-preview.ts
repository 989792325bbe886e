import type { Queryable } from '../queryable';
import type { RollbackScope } from './rollback-scope';
import { restorePointPick } from './restore-points-sql';

export interface RollbackPreviewRow {
  code: string;
  /** the patch run whose restore point is used, the dossier's level now and the restore point's */
  patchRun: number;
  level: number;
  restoreLevel: number;
  generation: number;
  snapshotAt: Date;
}

/**
 * What a rollback of `scope` would restore (`patch rollback --dry-run`): each dossier with the restore point the
 * selection takes (restore-points-sql.ts, as the run's insert-items does), the supervisor first, then by code; the
 * first `shown` and the total.
 */
export async function rollbackPreview(db: Queryable, scope: RollbackScope, shown: number): Promise<{ total: number; rows: RollbackPreviewRow[] }> {
  const pick = restorePointPick(scope);
  const { rows } = await db.query<{ code: string; patch_run: string; level: number; restore_level: number | null; generation: string; snapshot_at: Date; total: number }>(
    `WITH pick AS (${pick.sql})
     SELECT p.code, p.run_id::text AS patch_run, d.patch_level AS level, g.patch_level AS restore_level, g.id::text AS generation, g.snapshot_at,
            count(*) OVER ()::int AS total
       FROM pick p JOIN nightshift.backup_generation g ON g.id = p.restore_point JOIN nightshift.dossier d ON d.code = p.code
      ORDER BY d.role = 'supervisor' DESC, p.code
      LIMIT $${pick.params.length + 1}`,
    [...pick.params, shown],
  );
  return {
    total: rows[0]?.total ?? 0,
    rows: rows.map((r) => ({ code: r.code, patchRun: Number(r.patch_run), level: r.level, restoreLevel: r.restore_level ?? 0, generation: Number(r.generation), snapshotAt: r.snapshot_at })),
  };
}
