import type { Queryable } from '../queryable';

/**
 * A stopped chunk's dossiers it never started (`--max-failures`): their pending ledger rows go, so that closing the run
 * does not count them failed ("not finished"). Only rows of dossiers this run never touched: still at the level it
 * found, no restore point begun. How many went.
 */
export async function dropUnstartedItems(db: Queryable, runId: number, codes: string[]): Promise<number> {
  const r = await db.query(
    `DELETE FROM nightshift.patch_run_item i USING nightshift.dossier d
      WHERE i.run_id = $1 AND i.code = ANY($2::text[]) AND i.status = 'pending' AND i.restore_point_state IS NULL
        AND d.code = i.code AND d.patch_level = i.from_level`,
    [runId, codes],
  );
  return r.rowCount ?? 0;
}
