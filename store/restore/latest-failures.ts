import type { Queryable } from '../queryable';

/** The restore run's newest failed dossiers (at most `limit`), oldest first, with why. */
export async function latestRestoreFailures(db: Queryable, runId: number, limit: number): Promise<{ code: string; error: string | null }[]> {
  const { rows } = await db.query<{ code: string; error: string | null }>(
    `SELECT code, error FROM (
       SELECT code, error, finished_at FROM nightshift.restore_run_item
        WHERE run_id = $1 AND status = 'failed' ORDER BY finished_at DESC, code DESC LIMIT $2) f
      ORDER BY finished_at, code`,
    [runId, limit],
  );
  return rows;
}
