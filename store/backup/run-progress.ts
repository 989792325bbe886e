import type { Queryable } from '../queryable';

export interface RunProgress {
  done: number;
  /** not ok: in use, failed, not done */
  failed: number;
  /** seconds since the last dossier ended, on the database clock; null before the first */
  sinceLastEndSeconds: number | null;
}

/** What the run's ledger says right now (the details refresh it every few seconds while chunks run). */
export async function runProgress(db: Queryable, runId: number): Promise<RunProgress> {
  const { rows } = await db.query<{ done: number; failed: number; since: number | null }>(
    `SELECT count(*)::int AS done, (count(*) FILTER (WHERE status <> 'ok'))::int AS failed,
            extract(epoch FROM now() - max(finished_at))::float8 AS since
       FROM nightshift.backup_run_item WHERE run_id = $1`,
    [runId],
  );
  const r = rows[0]!;
  return { done: r.done, failed: r.failed, sinceLastEndSeconds: r.since === null ? null : Math.max(0, Math.round(r.since)) };
}
