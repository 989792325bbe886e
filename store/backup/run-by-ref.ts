import type { Queryable } from '../queryable';
import type { BackupRunRow } from './run-row';

/** One backup run, by its number (`by: 'id'`) or its workflow id; undefined when there is none. */
export async function runByRef(db: Queryable, ref: string, by: 'id' | 'workflow_id'): Promise<BackupRunRow | undefined> {
  const { rows } = await db.query<BackupRunRow>(`SELECT * FROM nightshift.backup_run WHERE ${by === 'id' ? 'id = $1::bigint' : 'workflow_id = $1'}`, [ref]);
  return rows[0];
}
