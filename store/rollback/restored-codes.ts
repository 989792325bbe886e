import type { Queryable } from '../queryable';

/** The codes a rollback run restored (ok), by code: the window says which dossiers it rolled back. */
export async function restoredCodes(db: Queryable, runId: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(`SELECT code FROM nightshift.patch_rollback_item WHERE run_id = $1 AND status = 'ok' ORDER BY code LIMIT $2`, [runId, limit]);
  return rows.map((r) => r.code);
}
