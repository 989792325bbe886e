import type { Queryable } from '../queryable';

/**
 * Ends a running verify run with its totals and report; `note`: why it stopped early (kept when one was recorded
 * first: setVerifyRunNote). False when it was no longer running.
 */
export async function closeVerifyRun(
  db: Queryable,
  runId: number,
  c: { state: 'completed' | 'problems' | 'failed'; ok: number; problems: number; restored: number; reportPath: string; mailWanted: boolean; note?: string | null },
): Promise<boolean> {
  const closed = await db.query(
    `UPDATE nightshift.verify_run
        SET state = $2, finished_at = now(), updated_at = now(), total = $3, ok = $4, problems = $5, restored = $6,
            report_path = $7, mail_state = CASE WHEN $8 AND mail_state = 'none' THEN 'pending' ELSE mail_state END,
            note = COALESCE(note, $9)
      WHERE id = $1 AND state = 'running'`,
    [runId, c.state, c.ok + c.problems, c.ok, c.problems, c.restored, c.reportPath, c.mailWanted, c.note ?? null],
  );
  return Boolean(closed.rowCount);
}
