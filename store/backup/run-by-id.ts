import type { Queryable } from '../queryable';
import type { BackupRunRow } from './run-row';

/** One backup run by its id (a number the workflow carries); undefined when there is none. */
export async function runById(db: Queryable, runId: number): Promise<BackupRunRow | undefined> {
  const { rows } = await db.query<BackupRunRow>('SELECT * FROM nightshift.backup_run WHERE id = $1', [runId]);
  return rows[0];
}
