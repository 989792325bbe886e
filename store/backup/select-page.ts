import type { SelectionCursor } from '../../domain/backup-batch';
import type { Queryable } from '../queryable';
import { leftNotBackedUpSql, OFFSITE_PENDING_SQL, SELECTION_FILTER_SQL } from './selection-sql';

/** R-BK-4: what the runs since the last full one left not backed up, read once per statement (an uncorrelated subquery). */
const LEFT_SQL = leftNotBackedUpSql('(SELECT pr.previous_run FROM nightshift.backup_run pr WHERE pr.id = $1)');

/**
 * One page of the selection per phase (R-BK-2, R-BK-4), in code order after the cursor. The priority phase takes
 * the dossiers the runs since the last full one left not backed up (store/backup/selection-sql.ts) and, when the run
 * copies off-site, the dossiers whose newest generation has no off-site copy yet (R-BK-14); the rest phase leaves
 * both to it. A run without a previous one has no priority phase (domain/backup-batch.ts firstCursor): its rest phase
 * takes them all.
 */
const PAGE_SQL: Record<SelectionCursor['phase'], string> = {
  priority: `
    (SELECT d.code FROM nightshift.backup_run r
       JOIN (${LEFT_SQL}) i ON true
       JOIN nightshift.dossier d ON d.code = i.code
      WHERE r.id = $1 AND i.code > $2 AND ${SELECTION_FILTER_SQL}
      ORDER BY i.code LIMIT $3)
    UNION
    (SELECT d.code FROM nightshift.backup_run r
       JOIN nightshift.backup_offsite_pending p ON coalesce((r.settings ->> 'offsite')::boolean, false)
       JOIN nightshift.dossier d ON d.code = p.code
      WHERE r.id = $1 AND p.code > $2 AND ${SELECTION_FILTER_SQL}
      ORDER BY p.code LIMIT $3)
    ORDER BY code LIMIT $3`,
  rest: `
    SELECT d.code FROM nightshift.backup_run r, nightshift.dossier d
     WHERE r.id = $1 AND d.code > $2 AND ${SELECTION_FILTER_SQL}
       AND d.code NOT IN (SELECT l.code FROM (${LEFT_SQL}) l)
       AND NOT (r.previous_run IS NOT NULL AND ${OFFSITE_PENDING_SQL})
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
