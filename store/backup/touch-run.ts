import type { Queryable } from '../queryable';

/** Shows the run alive through a long dossier, so that no claim takes it for abandoned. */
export async function touchRun(db: Queryable, runId: number): Promise<void> {
  await db.query('UPDATE nightshift.backup_run SET updated_at = now() WHERE id = $1', [runId]);
}
