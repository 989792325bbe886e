import type { Queryable } from '../queryable';

/** Those of `runIds` that are patch runs no longer running (a run not in the ledger is not among them). */
export async function closedRunIds(db: Queryable, runIds: readonly number[]): Promise<Set<number>> {
  if (!runIds.length) return new Set();
  const { rows } = await db.query<{ id: string }>(`SELECT id FROM nightshift.patch_run WHERE id = ANY($1::bigint[]) AND state <> 'running'`, [runIds]);
  return new Set(rows.map((r) => Number(r.id)));
}
