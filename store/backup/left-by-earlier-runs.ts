import type { Queryable } from '../queryable';
import { leftNotBackedUpSql } from './selection-sql';

/** Dossiers an earlier run left not backed up (R-BK-4), by run: what `backup retry` names when the last run has none. */
export interface LeftByRun {
  runId: number;
  count: number;
  /** the first few, by code */
  codes: string[];
}

/**
 * The runs before `lastRunId`, since the last full one, whose failures (in use, failed, not attempted) no later run
 * backed up, newest first, with the dossiers still registered: the set R-BK-4 takes first, read once.
 */
export async function leftByEarlierRuns(db: Queryable, lastRunId: number, codesShown = 5): Promise<LeftByRun[]> {
  const { rows } = await db.query<{ run_id: string; count: number; codes: string[] }>(
    `SELECT l.run_id, count(*)::int AS count, (array_agg(l.code ORDER BY l.code))[1:$2] AS codes
       FROM (${leftNotBackedUpSql('$1::bigint')}) l
       JOIN nightshift.dossier d ON d.code = l.code
      WHERE l.run_id < $1
      GROUP BY l.run_id
      ORDER BY l.run_id DESC`,
    [lastRunId, codesShown],
  );
  return rows.map((r) => ({ runId: Number(r.run_id), count: r.count, codes: r.codes }));
}
