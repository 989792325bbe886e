import type { Queryable } from '../queryable';
import type { VerifyProblemRow } from './latest-problems';

/** Every problem of a verify run, by dossier then generation (`backup verify status`). */
export async function verifyRunProblems(db: Queryable, runId: number): Promise<VerifyProblemRow[]> {
  const { rows } = await db.query<VerifyProblemRow>(
    `SELECT code, snapshot_at, file, status, error FROM nightshift.verify_run_item
      WHERE run_id = $1 AND status NOT IN ('ok', 'pruned') ORDER BY code, snapshot_at`,
    [runId],
  );
  return rows;
}

/** The last verify run of the target (`backup verify status` without a number). */
export async function latestVerifyRunId(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM nightshift.verify_run ORDER BY id DESC LIMIT 1');
  return rows[0]?.id;
}
