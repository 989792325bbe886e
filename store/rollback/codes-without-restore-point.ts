import type { Queryable } from '../queryable';
import { USABLE_RESTORE_POINT } from './restore-points-sql';

/** Of `codes`, those no patch run holds an unused restore point of (R-PI-11: nothing to roll back to). */
export async function codesWithoutRestorePoint(db: Queryable, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT c AS code FROM unnest($1::text[]) c
      WHERE NOT EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.code = c AND ${USABLE_RESTORE_POINT})
      ORDER BY c`,
    [codes],
  );
  return rows.map((r) => r.code);
}
