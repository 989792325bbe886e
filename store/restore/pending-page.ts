import type { Queryable } from '../queryable';

/** The run's pending dossiers after `after`, by code (a page of the fan-out engine). */
export async function pendingRestorePage(db: Queryable, runId: number, after: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT code FROM nightshift.restore_run_item WHERE run_id = $1 AND status = 'pending' AND code > $2 ORDER BY code LIMIT $3`,
    [runId, after, limit],
  );
  return rows.map((r) => r.code);
}
