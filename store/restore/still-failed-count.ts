import type { Queryable } from '../queryable';
import { stillFailedSql } from './still-failed-sql';

/** How many failed dossiers of the run a retry would take now, and how many of its failed ones later runs restored or kept. */
export async function stillFailedCount(db: Queryable, runId: number): Promise<{ stillFailed: number; failed: number }> {
  const { rows } = await db.query<{ still: number; failed: number }>(
    `SELECT (SELECT count(*)::int FROM (${stillFailedSql('$1')}) s) AS still,
            (SELECT count(*)::int FROM nightshift.restore_run_item WHERE run_id = $1 AND status = 'failed') AS failed`,
    [runId],
  );
  return { stillFailed: rows[0]!.still, failed: rows[0]!.failed };
}
