import type { Queryable } from '../queryable';

/** How many generations a backup run wrote that are still kept (a partial run writes some: they are verified too). */
export async function runGenerationCount(db: Queryable, runId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.backup_generation WHERE run_id = $1 AND deleted_at IS NULL', [runId]);
  return rows[0]!.n;
}
