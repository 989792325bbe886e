import type { Queryable } from '../queryable';

/** The ledgers of the runs that restore dossiers (workflows/restoring-run.ts): the bulk restore's and the patch rollback's. */
const LEDGERS = { restore: 'nightshift.restore_run_item', rollback: 'nightshift.patch_rollback_item' } as const;

/** A restore run's or a rollback run's newest failed dossiers (at most `limit`), oldest first, with why. */
export async function latestItemFailures(db: Queryable, ledger: keyof typeof LEDGERS, runId: number, limit: number): Promise<{ code: string; error: string | null }[]> {
  const { rows } = await db.query<{ code: string; error: string | null }>(
    `SELECT code, error FROM (
       SELECT code, error, finished_at FROM ${LEDGERS[ledger]}
        WHERE run_id = $1 AND status = 'failed' ORDER BY finished_at DESC, code DESC LIMIT $2) f
      ORDER BY finished_at, code`,
    [runId, limit],
  );
  return rows;
}
