import type { Queryable } from '../queryable';

/** The verify report's mail: sent, or given up (why). */
export async function markVerifyMail(db: Queryable, runId: number, state: 'sent' | 'failed', error: string | null = null): Promise<void> {
  await db.query('UPDATE nightshift.verify_run SET mail_state = $2, mail_error = $3 WHERE id = $1', [runId, state, error]);
}
