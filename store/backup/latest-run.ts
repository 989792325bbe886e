import type { Queryable } from '../queryable';
import type { BackupRunRow } from './run-row';

/** The most recent backup run of this target (undefined before the first one). */
export async function latestRun(db: Queryable): Promise<BackupRunRow | undefined> {
  const { rows } = await db.query<BackupRunRow>('SELECT * FROM nightshift.backup_run ORDER BY id DESC LIMIT 1');
  return rows[0];
}
