import type { Queryable } from '../queryable';

export interface VerifyProblemRow {
  code: string;
  snapshot_at: Date;
  file: string;
  status: string;
  error: string | null;
}

/**
 * The newest `limit` problems of a verify run (a running run's details show the latest), by dossier and date (drill V2,
 * session 36: in the order the lanes recorded them, DEMO0003 came before DEMO0001 in the CLI, the mail and the Web UI).
 */
export async function latestVerifyProblems(db: Queryable, runId: number, limit: number): Promise<VerifyProblemRow[]> {
  const { rows } = await db.query<VerifyProblemRow>(
    `SELECT code, snapshot_at, file, status, error FROM (
       SELECT code, snapshot_at, file, status, error, seq FROM nightshift.verify_run_item
        WHERE run_id = $1 AND status NOT IN ('ok', 'pruned') ORDER BY seq DESC LIMIT $2) p ORDER BY code, snapshot_at, seq`,
    [runId, limit],
  );
  return rows;
}
