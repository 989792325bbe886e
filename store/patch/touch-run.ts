import type { Queryable } from '../queryable';

/** Shows the run alive after a chunk, so that no claim takes it for abandoned. */
export async function touchRun(db: Queryable, runId: number): Promise<void> {
  await db.query('UPDATE nightshift.patch_run SET updated_at = now() WHERE id = $1', [runId]);
}
