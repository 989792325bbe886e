import type { Queryable } from '../queryable';
import { COUNT_ADDED_SQL } from './run-totals-sql';
import { type BackupRunKind, SELECTION_FILTER_SQL } from './selection-sql';

/** The selected dossiers the run has no row for: recorded 'not_done' ($2: why) once the destination stopped the batch. */
const NOT_DONE_SQL: Record<BackupRunKind, string> = {
  run: `WITH ins AS (INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, duration_ms)
        SELECT r.id, d.code, 'not_done', 0, $2, 0 FROM nightshift.backup_run r, nightshift.dossier d
         WHERE r.id = $1 AND r.state = 'running' AND ${SELECTION_FILTER_SQL}
           AND NOT EXISTS (SELECT 1 FROM nightshift.backup_run_item x WHERE x.run_id = r.id AND x.code = d.code)
         ORDER BY d.code
        ON CONFLICT (run_id, code) DO NOTHING RETURNING 1)
        ${COUNT_ADDED_SQL}`,
  retry: `WITH ins AS (INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, duration_ms)
          SELECT r.id, d.code, 'not_done', 0, $2, 0 FROM nightshift.backup_run r
            JOIN nightshift.backup_run_item i ON i.run_id = r.retry_of AND i.status <> 'ok'
            JOIN nightshift.dossier d ON d.code = i.code
           WHERE r.id = $1 AND r.state = 'running' AND ${SELECTION_FILTER_SQL}
             AND NOT EXISTS (SELECT 1 FROM nightshift.backup_run_item x WHERE x.run_id = r.id AND x.code = d.code)
           ORDER BY d.code
          ON CONFLICT (run_id, code) DO NOTHING RETURNING 1)
          ${COUNT_ADDED_SQL}`,
};

/** Every selected dossier of a stopped run not attempted yet gets a 'not_done' row saying why, counted in the run's totals. */
export async function recordNotDoneSelection(db: Queryable, kind: BackupRunKind, runId: number, error: string): Promise<void> {
  await db.query(NOT_DONE_SQL[kind], [runId, error]);
}
