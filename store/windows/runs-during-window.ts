import type { Queryable } from '../queryable';
import type { LedgerRun } from './runs-since-window';

/**
 * `maintenance show ID`: the backup batches, patch runs and rollback runs claimed while the window was open (from its
 * row's creation to its end, or now), oldest first, with their start: what the window ran, its payload's and by hand.
 */
export async function runsDuringWindow(db: Queryable, windowId: string, limit = 50): Promise<(LedgerRun & { startedAt: Date })[]> {
  const r = await db.query<LedgerRun & { startedAt: Date }>(
    `WITH w AS (SELECT created_at, coalesce(finished_at, now()) AS until FROM nightshift.maintenance_window WHERE id = $1)
     SELECT kind, id, "workflowId", state, "notDone", "notStarted", started_at AS "startedAt" FROM (
       SELECT 'backup' AS kind, r.id::text AS id, r.workflow_id AS "workflowId", r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.backup_run_item i WHERE i.run_id = r.id AND i.status <> 'ok') END AS "notDone",
              NULL::int AS "notStarted"
         FROM nightshift.backup_run r, w WHERE r.started_at >= w.created_at AND r.started_at <= w.until
       UNION ALL
       SELECT 'patch', r.id::text, r.workflow_id, r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status <> 'ok') END,
              r.not_started
         FROM nightshift.patch_run r, w WHERE r.started_at >= w.created_at AND r.started_at <= w.until
       UNION ALL
       SELECT 'rollback', r.id::text, r.workflow_id, r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.patch_rollback_item i WHERE i.run_id = r.id AND i.status <> 'ok') END,
              NULL
         FROM nightshift.patch_rollback_run r, w WHERE r.started_at >= w.created_at AND r.started_at <= w.until
     ) runs ORDER BY started_at, kind LIMIT $2`,
    [windowId, limit],
  );
  return r.rows;
}
