import type { Queryable } from '../queryable';

/** R-BK-8: the mail gave up (the report stays in the log folder); the error is kept, cut to 2000 characters. */
export async function markMailFailed(db: Queryable, runId: number, error: string): Promise<void> {
  await db.query(`UPDATE nightshift.backup_run SET mail_state = 'failed', mail_error = $2 WHERE id = $1`, [runId, error.slice(0, 2000)]);
}
