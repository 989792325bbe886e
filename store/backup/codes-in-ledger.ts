import type { Queryable } from '../queryable';

/** Which of these codes already have a ledger row in the run (a resumed chunk skips them). */
export async function codesInLedger(db: Queryable, runId: number, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>('SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 AND code = ANY ($2)', [runId, codes]);
  return rows.map((r) => r.code);
}
