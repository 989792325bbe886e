import type { Queryable } from '../queryable';

/** How many generations a backup run wrote, and how many of them are still kept (R-BK-11: the others were pruned). */
export async function runGenerationsKept(db: Queryable, runId: number): Promise<{ written: number; kept: number }> {
  const { rows } = await db.query<{ written: number; kept: number }>(
    `SELECT count(*)::int AS written, (count(*) FILTER (WHERE deleted_at IS NULL))::int AS kept
       FROM nightshift.backup_generation WHERE run_id = $1`,
    [runId],
  );
  return rows[0]!;
}
