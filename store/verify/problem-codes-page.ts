import type { Queryable } from '../queryable';

/** The distinct dossier codes with a problem in a verify run, after `after`, 2000 at a time (the mail's list). */
export async function verifyProblemCodesPage(db: Queryable, runId: number, after: string): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT DISTINCT code FROM nightshift.verify_run_item WHERE run_id = $1 AND status NOT IN ('ok', 'pruned') AND code > $2 ORDER BY code LIMIT 2000`,
    [runId, after],
  );
  return rows.map((r) => r.code);
}
