import type { Queryable } from '../queryable';

/** The run's ledger now: dossiers ended, failed, and seconds since the last one ended (null before the first). */
export async function itemCounts(db: Queryable, runId: number): Promise<{ done: number; failed: number; sinceLastEndSeconds: number | null }> {
  const { rows } = await db.query<{ done: number; failed: number; since: number | null }>(
    `SELECT count(*) FILTER (WHERE status <> 'pending')::int AS done, count(*) FILTER (WHERE status = 'failed')::int AS failed,
            extract(epoch FROM now() - max(finished_at) FILTER (WHERE status <> 'pending'))::float8 AS since
       FROM nightshift.patch_run_item WHERE run_id = $1`,
    [runId],
  );
  const r = rows[0]!;
  return { done: r.done, failed: r.failed, sinceLastEndSeconds: r.since === null ? null : Math.round(r.since) };
}
