import type { Queryable } from '../queryable';

/** code -> the dossier's level when the run first touched it (its ledger row). */
export async function itemFromLevels(db: Queryable, runId: number, codes: string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ code: string; from_level: number }>('SELECT code, from_level FROM nightshift.patch_run_item WHERE run_id = $1 AND code = ANY($2::text[])', [runId, codes]);
  return new Map(rows.map((r) => [r.code, r.from_level]));
}
