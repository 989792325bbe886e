import type { Queryable } from '../queryable';

/** The dossiers a running run touched but never finished, with their level now and at the run's start. */
export async function unfinishedItems(db: Queryable, runId: number): Promise<{ code: string; from_level: number; schema_name: string | null; level: number | null }[]> {
  const { rows } = await db.query<{ code: string; from_level: number; schema_name: string | null; level: number | null }>(
    `SELECT i.code, i.from_level, d.schema_name, d.patch_level AS level FROM nightshift.patch_run_item i
           JOIN nightshift.patch_run r ON r.id = i.run_id AND r.state = 'running'
           LEFT JOIN nightshift.dossier d ON d.code = i.code
          WHERE i.run_id = $1 AND i.status = 'pending'`,
    [runId],
  );
  return rows;
}
