import type { Queryable } from '../queryable';

/** A run's failed dossiers (the first `limit` by code, null: every one): the patch that failed and why; and how many failed in all. */
export async function runFailures(db: Queryable, runId: number, limit: number | null): Promise<{ failures: { code: string; patch?: number; error: string }[]; total: number }> {
  const { rows } = await db.query<{ code: string; failed_patch: number | null; error: string | null; n: number }>(
    `SELECT code, failed_patch, error, count(*) OVER ()::int AS n FROM nightshift.patch_run_item WHERE run_id = $1 AND status = 'failed' ORDER BY code LIMIT $2`,
    [runId, limit],
  );
  return {
    failures: rows.map((r) => ({ code: r.code, ...(r.failed_patch !== null ? { patch: r.failed_patch } : {}), error: r.error ?? 'failed' })),
    total: rows[0]?.n ?? 0,
  };
}
