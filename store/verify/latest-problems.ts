import type { Queryable } from '../queryable';

export interface VerifyProblemRow {
  code: string;
  snapshot_at: Date;
  file: string;
  status: string;
  error: string | null;
}

/** The newest `limit` problems of a verify run, oldest first (details, results). */
export async function latestVerifyProblems(db: Queryable, runId: number, limit: number): Promise<VerifyProblemRow[]> {
  const { rows } = await db.query<VerifyProblemRow>(
    `SELECT code, snapshot_at, file, status, error FROM (
       SELECT code, snapshot_at, file, status, error, seq FROM nightshift.verify_run_item
        WHERE run_id = $1 AND status NOT IN ('ok', 'pruned') ORDER BY seq DESC LIMIT $2) p ORDER BY seq`,
    [runId, limit],
  );
  return rows;
}
