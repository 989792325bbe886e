import type { Queryable } from '../queryable';
import type { BackupRunSettings } from './run-row';
import type { BackupRunKind } from './selection-sql';

export interface NewBackupRun {
  workflowId: string;
  kind: BackupRunKind;
  retryOf: number | null;
  previousRun: number | null;
  settings: BackupRunSettings;
  onlyCodes: string[] | null;
}

/** Claims a run (state 'running': the unique index backup_run_one_running refuses a second, R-BK-1); its id. */
export async function insertRun(db: Queryable, run: NewBackupRun): Promise<number> {
  const inserted = await db.query<{ id: string }>(
    `INSERT INTO nightshift.backup_run (workflow_id, kind, retry_of, previous_run, settings, only_codes)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [run.workflowId, run.kind, run.retryOf, run.previousRun, JSON.stringify(run.settings), run.onlyCodes],
  );
  return Number(inserted.rows[0]!.id);
}
