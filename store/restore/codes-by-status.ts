import type { Queryable } from '../queryable';

/** The first `limit` codes of the run's items in this status, by code. */
export async function restoreCodesByStatus(db: Queryable, runId: number, status: 'ok' | 'kept', limit: number): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>('SELECT code FROM nightshift.restore_run_item WHERE run_id = $1 AND status = $2 ORDER BY code LIMIT $3', [runId, status, limit]);
  return rows.map((r) => r.code);
}
