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

/** `added`: the row is the dossier's outcome; `present`: the run had its row already (kept); `closed`: the run is not running. */
export type RecordedItem = 'added' | 'present' | 'closed';

/**
 * Appends one dossier's outcome to the ledger (once per run: the primary key) and shows the run is
 * alive, only while the run is running (the run row's lock orders this against a close).
 * The run's totals (items_done, items_failed, last_item_at: what runProgress reads) count the row when it was
 * added; NULL totals (a run claimed before they existed) stay NULL.
 */
export async function recordItem(db: Queryable, runId: number, item: BackupRunItem): Promise<RecordedItem> {
  const { rows } = await db.query<{ alive: boolean; added: boolean }>({
    // prepared once per connection: one per dossier of a batch (see recordGeneration)
    name: 'nightshift.record_backup_item',
    text: `WITH run AS (SELECT id FROM nightshift.backup_run WHERE id = $1 AND state = 'running' FOR NO KEY UPDATE),
       ins AS (
         INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, file, size, duration_ms)
         SELECT run.id, $2, $3, $4, $5, $6, $7, $8 FROM run ON CONFLICT (run_id, code) DO NOTHING RETURNING status),
       upd AS (
         UPDATE nightshift.backup_run r
            SET updated_at = now(),
                items_done = r.items_done + (SELECT count(*) FROM ins),
                items_failed = r.items_failed + (SELECT count(*) FROM ins WHERE ins.status <> 'ok'),
                last_item_at = CASE WHEN EXISTS (SELECT 1 FROM ins) THEN now() ELSE r.last_item_at END
           FROM run WHERE r.id = run.id)
       SELECT EXISTS (SELECT 1 FROM run) AS alive, EXISTS (SELECT 1 FROM ins) AS added`,
    values: [runId, item.code, item.status, item.attempts, item.error, item.file, item.size, item.durationMs],
  });
  const r = rows[0]!;
  return !r.alive ? 'closed' : r.added ? 'added' : 'present';
}
