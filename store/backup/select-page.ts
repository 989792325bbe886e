import type { SelectionCursor } from '../../domain/backup-batch';
import type { Queryable } from '../queryable';
import { SELECTION_FILTER_SQL } from './selection-sql';

/** One page of the selection per phase (R-BK-2, R-BK-4), in code order after the cursor. */
const PAGE_SQL: Record<SelectionCursor['phase'], string> = {
  priority: `
    SELECT d.code FROM nightshift.backup_run r
      JOIN nightshift.backup_run_item i ON i.run_id = r.previous_run AND i.status <> 'ok'
      JOIN nightshift.dossier d ON d.code = i.code
     WHERE r.id = $1 AND i.code > $2 AND ${SELECTION_FILTER_SQL}
     ORDER BY i.code LIMIT $3`,
  rest: `
    SELECT d.code FROM nightshift.backup_run r, nightshift.dossier d
     WHERE r.id = $1 AND d.code > $2 AND ${SELECTION_FILTER_SQL}
       AND NOT EXISTS (SELECT 1 FROM nightshift.backup_run_item p
                        WHERE p.run_id = r.previous_run AND p.code = d.code AND p.status <> 'ok')
     ORDER BY d.code LIMIT $3`,
  retry: `
    SELECT d.code FROM nightshift.backup_run r
      JOIN nightshift.backup_run_item i ON i.run_id = r.retry_of AND i.status <> 'ok'
      JOIN nightshift.dossier d ON d.code = i.code
     WHERE r.id = $1 AND i.code > $2 AND ${SELECTION_FILTER_SQL}
     ORDER BY i.code LIMIT $3`,
};

/** Up to `limit` codes of this phase of the run's selection after `after`. */
export async function selectPage(db: Queryable, runId: number, phase: SelectionCursor['phase'], after: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(PAGE_SQL[phase], [runId, after, limit]);
  return rows.map((r) => r.code);
}
