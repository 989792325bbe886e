import type { Queryable } from '../queryable';

/** A run's failed dossiers (first 100, by code): the patch that failed and why. */
export async function runFailures(db: Queryable, runId: number): Promise<{ code: string; patch?: number; error: string }[]> {
  const { rows } = await db.query<{ code: string; failed_patch: number | null; error: string | null }>(
    `SELECT code, failed_patch, error FROM nightshift.patch_run_item WHERE run_id = $1 AND status = 'failed' ORDER BY code LIMIT 100`,
    [runId],
  );
  return rows.map((r) => ({ code: r.code, ...(r.failed_patch !== null ? { patch: r.failed_patch } : {}), error: r.error ?? 'failed' }));
}
