import type { Queryable } from '../queryable';

/** The run's newest failed dossiers (at most `limit`), oldest first, with the patch that failed and why. */
export async function latestFailures(db: Queryable, runId: number, limit: number): Promise<{ code: string; patch: number | null; error: string | null }[]> {
  const { rows } = await db.query<{ code: string; patch: number | null; error: string | null }>(
    `SELECT code, failed_patch AS patch, error FROM (
       SELECT code, failed_patch, error, finished_at FROM nightshift.patch_run_item
        WHERE run_id = $1 AND status = 'failed' ORDER BY finished_at DESC, code DESC LIMIT $2) f
      ORDER BY finished_at, code`,
    [runId, limit],
  );
  return rows;
}
