import type { Queryable } from '../queryable';

/** The supervisor the run saw and, unless already given, the dossiers it takes (null: every one). */
export async function setRunPlan(db: Queryable, runId: number, supervisor: string | null, requested: string[] | null): Promise<void> {
  await db.query('UPDATE nightshift.patch_run SET supervisor = $2, requested = coalesce(requested, $3), updated_at = now() WHERE id = $1', [runId, supervisor, requested]);
}
