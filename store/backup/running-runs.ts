import type { Queryable } from '../queryable';
import type { BackupRunRow } from './run-row';

/** The backup runs still marked running (R-BK-1: at most one per target). */
export async function runningRuns(db: Queryable): Promise<BackupRunRow[]> {
  const { rows } = await db.query<BackupRunRow>(`SELECT * FROM nightshift.backup_run WHERE state = 'running'`);
  return rows;
}
