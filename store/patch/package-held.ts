import type { Queryable } from '../queryable';

/** Whether some dossier holds the lowest patch that failed in run `r` (its package is sound elsewhere), as SQL over `r.id`. */
export const PACKAGE_HELD_SQL = `EXISTS (SELECT 1 FROM nightshift.dossier d
                     WHERE d.patch_level >= (SELECT min(i.failed_patch) FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed'))`;

/** The same of one run, for its close (the run's details say whose fault its failures are, as `patch status` does). */
export async function runPackageHeld(db: Queryable, runId: number): Promise<boolean> {
  const { rows } = await db.query<{ held: boolean }>(`SELECT ${PACKAGE_HELD_SQL} AS held FROM nightshift.patch_run r WHERE r.id = $1`, [runId]);
  return rows[0]?.held ?? false;
}
