import type { Queryable } from '../queryable';

/** The codes of a run's failed dossiers, in order (what `patch retry` takes again). */
export async function failedCodes(db: Queryable, runId: number): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(`SELECT code FROM nightshift.patch_run_item WHERE run_id = $1 AND status = 'failed' ORDER BY code`, [runId]);
  return rows.map((r) => r.code);
}
