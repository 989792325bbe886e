import type { Queryable } from '../queryable';

/** Which of these generations the run's ledger already holds (a retried chunk skips them). */
export async function verifyItemsInLedger(db: Queryable, runId: number, generationIds: number[]): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(
    'SELECT generation_id AS id FROM nightshift.verify_run_item WHERE run_id = $1 AND generation_id = ANY($2::bigint[])',
    [runId, generationIds],
  );
  return rows.map((r) => Number(r.id));
}
