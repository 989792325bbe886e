import type { Queryable } from '../queryable';

/** Whether another run of this target already has a report by this file name (two starts in the same local second: a repeated hour). */
export async function reportNameTaken(db: Queryable, runId: number, name: string): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM nightshift.backup_run
      WHERE id <> $1 AND report_path IS NOT NULL AND right(report_path, length($2) + 1) = '/' || $2 LIMIT 1`,
    [runId, name],
  );
  return rows.length > 0;
}
