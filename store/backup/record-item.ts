import type { ItemStatus } from '../../domain/backup-batch';
import type { Queryable } from '../queryable';

export interface BackupRunItem {
  code: string;
  status: ItemStatus;
  attempts: number;
  error: string | null;
  file: string | null;
  size: number | null;
  durationMs: number;
}

/**
 * Appends one dossier's outcome to the ledger (once per run: the primary key) and shows the run is
 * alive, only while the run is running (the run row's lock orders this against a close). False: closed.
 */
export async function recordItem(db: Queryable, runId: number, item: BackupRunItem): Promise<boolean> {
  const { rows } = await db.query<{ alive: boolean }>(
    `WITH run AS (UPDATE nightshift.backup_run SET updated_at = now() WHERE id = $1 AND state = 'running' RETURNING id),
       ins AS (
         INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, file, size, duration_ms)
         SELECT run.id, $2, $3, $4, $5, $6, $7, $8 FROM run ON CONFLICT (run_id, code) DO NOTHING RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM run) AS alive`,
    [runId, item.code, item.status, item.attempts, item.error, item.file, item.size, item.durationMs],
  );
  return rows[0]!.alive;
}
