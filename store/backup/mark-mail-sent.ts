import type { Queryable } from '../queryable';

/** R-BK-8: the report was mailed. */
export async function markMailSent(db: Queryable, runId: string): Promise<void> {
  await db.query(`UPDATE nightshift.backup_run SET mail_state = 'sent', mail_error = NULL WHERE id = $1`, [runId]);
}
