import type { Queryable } from '../queryable';

/** How many generations are kept, and how many of them have an off-site copy to read (store adopt, R-BK-14). */
export async function keptCopyCounts(db: Queryable): Promise<{ kept: number; copied: number }> {
  const { rows } = await db.query<{ kept: string; copied: string }>(
    `SELECT count(*) AS kept, count(*) FILTER (WHERE offsite_state = 'copied') AS copied FROM nightshift.backup_generation WHERE deleted_at IS NULL`,
  );
  return { kept: Number(rows[0]?.kept ?? 0), copied: Number(rows[0]?.copied ?? 0) };
}
