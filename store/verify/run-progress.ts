import type { Queryable } from '../queryable';

/** What the verify run's ledger says now: done, problems, restored, seconds since the last generation ended. */
export async function verifyRunProgress(db: Queryable, runId: number): Promise<{ done: number; ok: number; problems: number; restored: number; sinceLastEndSeconds: number | null }> {
  const { rows } = await db.query<{ done: number; problems: number; restored: number; since: number | null }>(
    `SELECT count(*)::int AS done, (count(*) FILTER (WHERE status NOT IN ('ok', 'pruned')))::int AS problems,
            (count(*) FILTER (WHERE restored))::int AS restored, extract(epoch FROM now() - max(finished_at))::float8 AS since
       FROM nightshift.verify_run_item WHERE run_id = $1`,
    [runId],
  );
  const r = rows[0]!;
  return { done: r.done, ok: r.done - r.problems, problems: r.problems, restored: r.restored, sinceLastEndSeconds: r.since === null ? null : Math.max(0, Math.round(r.since)) };
}
