import type { Queryable } from '../queryable';

export interface RunClosing {
  state: 'completed' | 'partial' | 'failed';
  ok: number;
  failed: number;
  reportPath: string;
  /** the report is to be mailed (R-BK-8): mail_state goes from 'none' to 'pending' */
  mailWanted: boolean;
}

/** Ends a running run with its totals and report; false when it was no longer running (closed by someone else). */
export async function closeRun(db: Queryable, runId: number, c: RunClosing): Promise<boolean> {
  const closed = await db.query(
    `UPDATE nightshift.backup_run
            SET state = $2, finished_at = now(), updated_at = now(), total = $3, ok = $4, failed = $5,
                report_path = $6, mail_state = CASE WHEN $7 AND mail_state = 'none' THEN 'pending' ELSE mail_state END
          WHERE id = $1 AND state = 'running'`,
    [runId, c.state, c.ok + c.failed, c.ok, c.failed, c.reportPath, c.mailWanted],
  );
  return Boolean(closed.rowCount);
}
