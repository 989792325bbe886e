import type { Queryable } from '../queryable';

/** The rollback run's ledger now: dossiers selected, ended, failed, and seconds since the last one ended. */
export async function rollbackItemCounts(db: Queryable, runId: number): Promise<{ total: number; done: number; failed: number; sinceLastEndSeconds: number | null }> {
  const { rows } = await db.query<{ total: number; done: number; failed: number; since: number | null }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE status <> 'pending')::int AS done, count(*) FILTER (WHERE status = 'failed')::int AS failed,
            extract(epoch FROM now() - max(finished_at))::float8 AS since
       FROM nightshift.patch_rollback_item WHERE run_id = $1`,
    [runId],
  );
  const r = rows[0]!;
  return { total: r.total, done: r.done, failed: r.failed, sinceLastEndSeconds: r.since === null ? null : Math.round(r.since) };
}
