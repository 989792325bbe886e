import type { Queryable } from '../queryable';

/** Those of `codes` whose outcome the run recorded already (a retried chunk skips them). */
export async function finishedCodes(db: Queryable, runId: number, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(`SELECT code FROM nightshift.patch_run_item WHERE run_id = $1 AND code = ANY($2::text[]) AND status <> 'pending'`, [runId, codes]);
  return rows.map((r) => r.code);
}
