import type { Queryable } from '../queryable';

/** The newest run that ended (its failures, and those of the runs back to the last full one, go first in the next run, R-BK-4); null before the first. */
export async function latestFinishedRunId(db: Queryable): Promise<number | null> {
  const { rows } = await db.query<{ id: string }>(`SELECT max(id)::text AS id FROM nightshift.backup_run WHERE state <> 'running'`);
  return rows[0]?.id ? Number(rows[0].id) : null;
}
