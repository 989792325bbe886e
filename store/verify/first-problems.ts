import type { Queryable } from '../queryable';
import type { VerifyProblemRow } from './latest-problems';

/**
 * The first `limit` problems of a closed verify run by dossier and date, as `backup verify status` lists them all: a
 * list cut short leaves out the last ones, not some from the middle (tester, 2026-12-08: "and 1 more" was a middle one).
 */
export async function firstVerifyProblems(db: Queryable, runId: number, limit: number): Promise<VerifyProblemRow[]> {
  const { rows } = await db.query<VerifyProblemRow>(
    `SELECT code, snapshot_at, file, status, error FROM nightshift.verify_run_item
      WHERE run_id = $1 AND status NOT IN ('ok', 'pruned') ORDER BY code, snapshot_at, seq LIMIT $2`,
    [runId, limit],
  );
  return rows;
}
