import type { Queryable } from '../queryable';

/**
 * Why a running verify run stops before reading every generation (the backup folder not the shared store: unmounted),
 * in its note (migration 0032), as the batch records its stop reason: the first reason found stays. False when it was
 * no longer running.
 */
export async function setVerifyRunNote(db: Queryable, runId: number, note: string): Promise<boolean> {
  const set = await db.query(`UPDATE nightshift.verify_run SET note = COALESCE(note, $2), updated_at = now() WHERE id = $1 AND state = 'running'`, [runId, note]);
  return Boolean(set.rowCount);
}
