import type { Queryable } from '../queryable';

/** Of `codes`, those the run has ended (ok, kept or failed): a retried chunk skips them. */
export async function endedRestoreCodes(db: Queryable, runId: number, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT code FROM nightshift.restore_run_item WHERE run_id = $1 AND code = ANY ($2::text[]) AND status <> 'pending'`,
    [runId, codes],
  );
  return rows.map((r) => r.code);
}
