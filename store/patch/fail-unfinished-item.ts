import type { Queryable } from '../queryable';

/** A pending dossier of a run that ended: failed, at the level it reached, with what the run applied to it. */
export async function failUnfinishedItem(db: Queryable, runId: number, code: string, level: number, applied: number[], error: string): Promise<void> {
  await db.query(
    `UPDATE nightshift.patch_run_item SET status = 'failed', to_level = $3, applied = $4, error = $5, finished_at = now()
            WHERE run_id = $1 AND code = $2 AND status = 'pending'`,
    [runId, code, level, applied, error],
  );
}
