import type { Queryable } from '../queryable';

/** The first and last patch numbers the run brings dossiers to. */
export async function setRunPatches(db: Queryable, runId: number, first: number, last: number): Promise<void> {
  await db.query('UPDATE nightshift.patch_run SET first_patch = $2, last_patch = $3, updated_at = now() WHERE id = $1', [runId, first, last]);
}
