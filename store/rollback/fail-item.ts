import type { Queryable } from '../queryable';

/** A dossier not restored: failed with its reason (nothing changed in it); an item already ended is left as it is. */
export async function failRollbackItem(db: Queryable, runId: number, code: string, failureType: string, error: string, level: number | null): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE nightshift.patch_rollback_item SET status = 'failed', failure_type = $3, error = $4, from_level = $5, to_level = $5, finished_at = now()
      WHERE run_id = $1 AND code = $2 AND status = 'pending'`,
    [runId, code, failureType, error.slice(0, 2000), level],
  );
  return (rowCount ?? 0) > 0;
}
