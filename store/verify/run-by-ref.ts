import type { Queryable } from '../queryable';
import { VERIFY_RUN_COLUMNS, type VerifyRunRow } from './run-row';

/** A verify run by its number or its workflow id. */
export async function verifyRunByRef(db: Queryable, ref: string | number, by: 'id' | 'workflow_id'): Promise<VerifyRunRow | undefined> {
  const { rows } = await db.query<VerifyRunRow>(
    `SELECT ${VERIFY_RUN_COLUMNS} FROM nightshift.verify_run WHERE ${by === 'id' ? 'id = $1::bigint' : 'workflow_id = $1'}`,
    [String(ref)],
  );
  return rows[0];
}
