import type { VerifyItemStatus } from '../../domain/backup-verify';
import type { Queryable } from '../queryable';

export interface VerifyRunItem {
  generationId: number;
  code: string;
  file: string;
  snapshotAt: Date;
  status: VerifyItemStatus;
  restored: boolean;
  sha256: string | null;
  error: string | null;
  durationMs: number;
}

/** Appends one generation's outcome (once per run: the primary key) while the run is running; false: the run is closed. */
export async function recordVerifyItem(db: Queryable, runId: number, i: VerifyRunItem): Promise<boolean> {
  const { rows } = await db.query<{ alive: boolean }>({
    // prepared once per connection: one per generation verified (see markGenerationVerified)
    name: 'nightshift.record_verify_item',
    text: `WITH run AS (UPDATE nightshift.verify_run SET updated_at = now() WHERE id = $1 AND state = 'running' RETURNING id),
       ins AS (
         INSERT INTO nightshift.verify_run_item (run_id, generation_id, code, file, snapshot_at, status, restored, sha256, error, duration_ms)
         SELECT run.id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM run ON CONFLICT (run_id, generation_id) DO NOTHING RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM run) AS alive`,
    values: [runId, i.generationId, i.code, i.file, i.snapshotAt, i.status, i.restored, i.sha256, i.error, i.durationMs],
  });
  return rows[0]!.alive;
}
