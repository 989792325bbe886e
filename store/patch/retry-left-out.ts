import type { Queryable } from '../queryable';

/** A failed dossier of a run that its retry leaves out: brought up since (its level now, and the later run that did it when one did), or deleted. */
export interface RetryLeftOut {
  code: string;
  /** its level now; null: no longer registered */
  level: number | null;
  /** the latest later patch run that left it at or above the run's last patch, when one did (else a restore, or by hand) */
  byRun: number | null;
}

/** What a retry of `runId` would take, read before it starts (as `patch status` counts `behind`). */
export interface RetryScope {
  /** its failed dossiers still below its last patch: the retry takes them */
  behind: number;
  /** the dossiers it did not start (stopped at its supervisor or by --max-failures) still below its last patch: the retry takes them too */
  notStartedBehind: number;
  /** its failed dossiers brought up to its last patch since (`patch revalidate`, a later run) or deleted, the first `limit` by code */
  leftOut: RetryLeftOut[];
  leftOutTotal: number;
}

/**
 * Backup retry's rule for patch runs (tester B: run 25, every failed dossier brought up since, started a retry of 55 rows that
 * applied nothing): a failed dossier at or above the run's last patch now, or deleted, needs no retry and is left out (the
 * `failed` and `stopped` selections, store/patch/selection-sql.ts, leave it out as well). `stopped`: the run did not start
 * some dossiers (stopped at its supervisor, or by --max-failures): those still below its last patch count too.
 */
export async function retryScope(db: Queryable, runId: number, stopped: boolean, limit = 1000): Promise<RetryScope> {
  const { rows } = await db.query<{ behind: number; not_started_behind: number; left_out_total: number; left_out: RetryLeftOut[] | null }>(
    `WITH r AS (SELECT id, coalesce(last_patch, 0) AS last_patch, requested FROM nightshift.patch_run WHERE id = $1),
          f AS (SELECT i.code, d.patch_level AS level FROM r JOIN nightshift.patch_run_item i ON i.run_id = r.id AND i.status = 'failed'
                  LEFT JOIN nightshift.dossier d ON d.code = i.code),
          out AS (SELECT f.code, f.level FROM f, r WHERE f.level IS NULL OR f.level >= r.last_patch)
     SELECT (SELECT count(*)::int FROM f, r WHERE f.level < r.last_patch) AS behind,
            CASE WHEN $2::boolean THEN
              (SELECT count(*)::int FROM r, nightshift.dossier d
                WHERE d.patch_level < r.last_patch AND (r.requested IS NULL OR d.code = ANY(r.requested))
                  AND NOT EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.code = d.code))
            ELSE 0 END AS not_started_behind,
            (SELECT count(*)::int FROM out) AS left_out_total,
            (SELECT json_agg(json_build_object('code', o.code, 'level', o.level, 'byRun',
                      (SELECT max(i.run_id)::int FROM nightshift.patch_run_item i, r
                        WHERE i.code = o.code AND i.run_id > r.id AND i.status = 'ok' AND i.to_level >= r.last_patch)) ORDER BY o.code)
               FROM (SELECT * FROM out ORDER BY code LIMIT $3) o) AS left_out`,
    [runId, stopped, limit],
  );
  const r = rows[0]!;
  return { behind: r.behind, notStartedBehind: r.not_started_behind, leftOut: r.left_out ?? [], leftOutTotal: r.left_out_total };
}
