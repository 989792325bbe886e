import type { Queryable } from '../queryable';

/** Records which run a retry takes its dossiers from. */
export async function setRetryOf(db: Queryable, runId: number, retryOf: number): Promise<void> {
  await db.query('UPDATE nightshift.patch_run SET retry_of = $2 WHERE id = $1', [runId, retryOf]);
}
