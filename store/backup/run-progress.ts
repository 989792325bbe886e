import type { Queryable } from '../queryable';

export interface RunProgress {
  done: number;
  /** not ok: in use, failed, not done */
  failed: number;
  /** seconds since the last dossier ended, on the database clock; null before the first */
  sinceLastEndSeconds: number | null;
}

/**
 * What the run's ledger says right now (the details refresh it every few seconds while chunks run): the totals the
 * ledger's writers keep on the run's row (one row read, whatever the dossiers done), or, for a run claimed before
 * those totals existed (NULL), its rows counted.
 */
export async function runProgress(db: Queryable, runId: number): Promise<RunProgress> {
  const { rows } = await db.query<{ done: number; failed: number; since: number | null }>(
    `SELECT coalesce(r.items_done, c.done) AS done, coalesce(r.items_failed, c.failed) AS failed,
            extract(epoch FROM now() - CASE WHEN r.items_done IS NULL THEN c.last ELSE r.last_item_at END)::float8 AS since
       FROM nightshift.backup_run r
       LEFT JOIN LATERAL (
         SELECT count(*)::int AS done, (count(*) FILTER (WHERE i.status <> 'ok'))::int AS failed, max(i.finished_at) AS last
           FROM nightshift.backup_run_item i WHERE i.run_id = r.id AND r.items_done IS NULL) c ON true
      WHERE r.id = $1`,
    [runId],
  );
  const r = rows[0];
  if (!r) return { done: 0, failed: 0, sinceLastEndSeconds: null };
  return { done: r.done, failed: r.failed, sinceLastEndSeconds: r.since === null ? null : Math.max(0, Math.round(r.since)) };
}
