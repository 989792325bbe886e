import type { Queryable } from '../queryable';

/** How many dossiers of a run are in each status (ok, in_use, failed, ...). */
export async function runItemCounts(db: Queryable, runId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM nightshift.backup_run_item WHERE run_id = $1 GROUP BY status', [runId]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}
