import type { Queryable } from '../queryable';

/**
 * The run's pending ledger rows for these dossiers, with their level when the run first touches them
 * (kept by every retry: an existing row is left alone). Only while the run is running. How many were new.
 */
export async function openItems(db: Queryable, runId: number, codes: string[]): Promise<number> {
  const opened = await db.query(
    `INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level)
         SELECT r.id, d.code, 'pending', d.patch_level, d.patch_level
           FROM nightshift.patch_run r JOIN nightshift.dossier d ON d.code = ANY($2::text[])
          WHERE r.id = $1 AND r.state = 'running'
         ON CONFLICT (run_id, code) DO NOTHING RETURNING 1`,
    [runId, codes],
  );
  return opened.rowCount ?? 0;
}
