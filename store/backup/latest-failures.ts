import type { Queryable } from '../queryable';
import type { RunFailure } from './run-failures';

/**
 * The newest `limit` dossiers of a run not backed up, oldest first (what details and results carry): those attempted
 * (failed, in use) before those a stopped batch never attempted, which only say it stopped (drill W, session 40: 125
 * not attempted hid the 4 that failed, and why).
 */
export async function latestFailures(db: Queryable, runId: number | string, limit: number): Promise<RunFailure[]> {
  const { rows } = await db.query<RunFailure>(
    `SELECT code, status, error FROM (
       SELECT code, status, error, seq FROM nightshift.backup_run_item WHERE run_id = $1 AND status <> 'ok' ORDER BY status = 'not_done', seq DESC LIMIT $2
     ) newest ORDER BY seq`,
    [runId, limit],
  );
  return rows;
}
