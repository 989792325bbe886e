import type { Queryable } from '../queryable';

/** A restore run's failed dossiers (the first `limit`, by code) and how many failed in all. */
export async function restoreRunFailures(db: Queryable, runId: number, limit: number): Promise<{ failures: { code: string; error: string }[]; total: number }> {
  const { rows } = await db.query<{ code: string; error: string | null; n: number }>(
    `SELECT code, error, count(*) OVER ()::int AS n FROM nightshift.restore_run_item WHERE run_id = $1 AND status = 'failed' ORDER BY code LIMIT $2`,
    [runId, limit],
  );
  return { failures: rows.map((r) => ({ code: r.code, error: r.error ?? 'failed' })), total: rows[0]?.n ?? 0 };
}
