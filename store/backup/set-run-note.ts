import type { Queryable } from '../queryable';

/** Replaces a run's note (e.g. where its report went instead of the backup folder). */
export async function setRunNote(db: Queryable, runId: string, note: string): Promise<void> {
  await db.query('UPDATE nightshift.backup_run SET note = $2 WHERE id = $1', [runId, note]);
}
