import { abandonedNote } from '../../domain/failures';
import type { Queryable } from '../queryable';

/**
 * Ends a running verify run whose workflow Temporal says closed (terminated, timed out): failed, its totals from its
 * ledger (what it did verify stays true), finished now, and why (migration 0032). False when it was no longer running.
 */
export async function closeAbandonedVerifyRun(db: Queryable, runId: string, workflowStatus: string): Promise<boolean> {
  const closed = await db.query(
    `UPDATE nightshift.verify_run r
        SET state = 'failed', finished_at = now(), updated_at = now(), note = $2,
            total = l.done, ok = l.done - l.problems, problems = l.problems, restored = l.restored
       FROM (SELECT count(*)::int AS done, (count(*) FILTER (WHERE status NOT IN ('ok', 'pruned')))::int AS problems,
                    (count(*) FILTER (WHERE restored))::int AS restored
               FROM nightshift.verify_run_item WHERE run_id = $1) l
      WHERE r.id = $1 AND r.state = 'running'`,
    [runId, abandonedNote(workflowStatus)],
  );
  return Boolean(closed.rowCount);
}
