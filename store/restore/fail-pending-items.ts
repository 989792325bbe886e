import type { Queryable } from '../queryable';

/** The run ended early: its dossiers never started are failed with why, so that a retry takes them. */
export async function failPendingRestoreItems(db: Queryable, runId: number, error: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.restore_run_item SET status = 'failed', failure_type = 'NotDone', error = $2, finished_at = now() WHERE run_id = $1 AND status = 'pending'`,
    [runId, error.slice(0, 2000)],
  );
  return rowCount ?? 0;
}
