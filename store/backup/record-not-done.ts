import type { Queryable } from '../queryable';
import { COUNT_ADDED_SQL } from './run-totals-sql';

/**
 * Codes the stopped batch did not attempt: 'not_done' rows (taken first by `backup retry` and the next run, R-BK-4),
 * counted in the run's totals.
 */
export async function recordNotDone(db: Queryable, runId: number, codes: string[], error: string): Promise<void> {
  if (!codes.length) return;
  await db.query(
    `WITH ins AS (
       INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, duration_ms)
       SELECT r.id, c.code, 'not_done', 0, $3, 0 FROM nightshift.backup_run r, unnest($2::text[]) WITH ORDINALITY AS c(code, n)
        WHERE r.id = $1 AND r.state = 'running' ORDER BY c.n
       ON CONFLICT (run_id, code) DO NOTHING RETURNING 1)
     ${COUNT_ADDED_SQL}`,
    [runId, codes, error],
  );
}
