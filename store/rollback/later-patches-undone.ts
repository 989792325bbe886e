import type { Queryable } from '../queryable';
import type { RollbackScope } from './rollback-scope';
import { restorePointPick } from './restore-points-sql';

export interface LaterPatchesUndone {
  code: string;
  /** the patch run whose restore point would be used, the level it left the dossier at, the restore point's level */
  patchRun: number;
  runLevel: number;
  restoreLevel: number;
  /** the dossier's level now */
  level: number;
  supervisor: boolean;
  /** for the supervisor: dossiers outside the scope at a level above the restore point's (R-PI-9: they inherit from it) */
  above: number;
}

/**
 * What a rollback of `scope` would undo besides the run it names (R-PI-11): a dossier patched again since that run
 * (its level now above the level the run left it at) loses the later runs' patches too, and a supervisor taken back
 * below other dossiers leaves them ahead of it. The restore point of each dossier is the one the selection takes
 * (codes: the newest unused; a run: that run's). A retry's scope was checked when its rollback started.
 */
export async function laterPatchesUndone(db: Queryable, scope: RollbackScope): Promise<LaterPatchesUndone[]> {
  if (scope.kind === 'retry') return [];
  const pick = restorePointPick(scope);
  const { rows } = await db.query<{ code: string; patch_run: string; run_level: number; restore_level: number; level: number; supervisor: boolean; above: number }>(
    `WITH pick AS (${pick.sql})
     SELECT p.code, p.run_id::text AS patch_run, p.to_level AS run_level, g.patch_level AS restore_level, d.patch_level AS level,
            d.role = 'supervisor' AS supervisor,
            CASE WHEN d.role = 'supervisor'
                 THEN (SELECT count(*) FROM nightshift.dossier o WHERE o.code NOT IN (SELECT code FROM pick) AND o.patch_level > g.patch_level)::int
                 ELSE 0 END AS above
       FROM pick p JOIN nightshift.backup_generation g ON g.id = p.restore_point JOIN nightshift.dossier d ON d.code = p.code
      ORDER BY d.role = 'supervisor' DESC, p.code`,
    pick.params,
  );
  return rows
    .map((r) => ({ code: r.code, patchRun: Number(r.patch_run), runLevel: r.run_level, restoreLevel: r.restore_level, level: r.level, supervisor: r.supervisor, above: r.above }))
    .filter((r) => r.level > r.runLevel || r.above > 0);
}
