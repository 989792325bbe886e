import type { Queryable } from '../queryable';

/** Closes a running restore run in its final state (a run already closed is left as it is). */
export async function closeRestoreRun(db: Queryable, runId: number, state: 'completed' | 'partial' | 'failed', error: string | null, notes: string[]): Promise<void> {
  await db.query(
    `UPDATE nightshift.restore_run SET state = $2, error = coalesce($3, error), notes = $4, finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'`,
    [runId, state, error, notes],
  );
}
