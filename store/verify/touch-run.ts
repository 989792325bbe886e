import type { Queryable } from '../queryable';

/** Shows the verify run alive through a long generation. */
export async function touchVerifyRun(db: Queryable, runId: number): Promise<void> {
  await db.query('UPDATE nightshift.verify_run SET updated_at = now() WHERE id = $1', [runId]);
}
