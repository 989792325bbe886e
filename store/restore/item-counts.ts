import type { Queryable } from '../queryable';

export interface RestoreItemCounts {
  total: number;
  done: number;
  restored: number;
  kept: number;
  failed: number;
  sinceLastEndSeconds: number | null;
}

/** The restore run's ledger now: dossiers selected, ended, restored, kept, failed, and seconds since the last one ended. */
export async function restoreItemCounts(db: Queryable, runId: number): Promise<RestoreItemCounts> {
  const { rows } = await db.query<{ total: number; done: number; restored: number; kept: number; failed: number; since: number | null }>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE status <> 'pending')::int AS done, count(*) FILTER (WHERE status = 'ok')::int AS restored,
            count(*) FILTER (WHERE status = 'kept')::int AS kept, count(*) FILTER (WHERE status = 'failed')::int AS failed,
            extract(epoch FROM now() - max(finished_at))::float8 AS since
       FROM nightshift.restore_run_item WHERE run_id = $1`,
    [runId],
  );
  const r = rows[0]!;
  return { total: r.total, done: r.done, restored: r.restored, kept: r.kept, failed: r.failed, sinceLastEndSeconds: r.since === null ? null : Math.round(r.since) };
}
