import type { Queryable } from '../queryable';

export interface LedgerRun {
  kind: 'backup' | 'patch' | 'rollback';
  /** bigint, as text */
  id: string;
  workflowId: string;
  state: string;
  /** partial or failed: its dossiers not done (failed, in use, not reached); else null */
  notDone: number | null;
  /** a patch run --max-failures stopped: its dossiers it did not start (not among notDone); else null */
  notStarted: number | null;
}

/**
 * Backup batches, patch runs and rollback runs claimed since the window's row was written, oldest first (the window
 * links them, issue 12; a rollback changes dossiers as a patch run does). Both instants are the database's: no skew with the workflow's clock.
 */
export async function runsSinceWindow(db: Queryable, windowId: string, limit = 20): Promise<LedgerRun[]> {
  const r = await db.query<LedgerRun>(
    `WITH w AS (SELECT created_at FROM nightshift.maintenance_window WHERE id = $1)
     SELECT kind, id, "workflowId", state, "notDone", "notStarted" FROM (
       SELECT 'backup' AS kind, r.id::text AS id, r.workflow_id AS "workflowId", r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.backup_run_item i WHERE i.run_id = r.id AND i.status <> 'ok') END AS "notDone",
              NULL::int AS "notStarted"
         FROM nightshift.backup_run r WHERE r.started_at >= (SELECT created_at FROM w)
       UNION ALL
       SELECT 'patch', r.id::text, r.workflow_id, r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status <> 'ok') END,
              r.not_started
         FROM nightshift.patch_run r WHERE r.started_at >= (SELECT created_at FROM w)
       UNION ALL
       SELECT 'rollback', r.id::text, r.workflow_id, r.state, r.started_at,
              CASE WHEN r.state IN ('partial', 'failed') THEN (SELECT count(*)::int FROM nightshift.patch_rollback_item i WHERE i.run_id = r.id AND i.status <> 'ok') END,
              NULL
         FROM nightshift.patch_rollback_run r WHERE r.started_at >= (SELECT created_at FROM w)
     ) runs ORDER BY started_at, kind LIMIT $2`,
    [windowId, limit],
  );
  return r.rows;
}
