import type { Queryable } from '../queryable';

/**
 * How long the target's last `runs` patch runs that applied something took, and how many dossier × patch
 * applications they made (a plan's time estimate). Runs refused at their start or still running do not count.
 */
export async function planHistory(db: Queryable, runs = 20): Promise<{ runs: number; seconds: number; applications: number }> {
  const { rows } = await db.query<{ runs: number; seconds: number | null; applications: number | null }>(
    `WITH r AS (
       SELECT r.id, extract(epoch FROM r.finished_at - r.started_at)::float8 AS seconds,
              (SELECT coalesce(sum(cardinality(i.applied)), 0) FROM nightshift.patch_run_item i WHERE i.run_id = r.id)::int AS applications
         FROM nightshift.patch_run r
        WHERE r.state IN ('completed', 'partial') AND r.finished_at IS NOT NULL
        ORDER BY r.id DESC LIMIT $1)
     SELECT count(*)::int AS runs, sum(seconds)::float8 AS seconds, sum(applications)::int AS applications FROM r WHERE applications > 0`,
    [runs],
  );
  const r = rows[0]!;
  return { runs: r.runs, seconds: r.seconds ?? 0, applications: r.applications ?? 0 };
}
