import type { Queryable } from '../queryable';

export interface LedgerRun {
  kind: 'backup' | 'patch' | 'rollback';
  /** bigint, as text */
  id: string;
  workflowId: string;
  state: string;
}

/**
 * Backup batches, patch runs and rollback runs claimed since the window's row was written, oldest first (the window
 * links them, issue 12; a rollback changes dossiers as a patch run does). Both instants are the database's: no skew with the workflow's clock.
 */
export async function runsSinceWindow(db: Queryable, windowId: string, limit = 20): Promise<LedgerRun[]> {
  const r = await db.query<LedgerRun>(
    `WITH w AS (SELECT created_at FROM nightshift.maintenance_window WHERE id = $1)
     SELECT kind, id, "workflowId", state FROM (
       SELECT 'backup' AS kind, id::text AS id, workflow_id AS "workflowId", state, started_at FROM nightshift.backup_run WHERE started_at >= (SELECT created_at FROM w)
       UNION ALL
       SELECT 'patch', id::text, workflow_id, state, started_at FROM nightshift.patch_run WHERE started_at >= (SELECT created_at FROM w)
       UNION ALL
       SELECT 'rollback', id::text, workflow_id, state, started_at FROM nightshift.patch_rollback_run WHERE started_at >= (SELECT created_at FROM w)
     ) runs ORDER BY started_at, kind LIMIT $2`,
    [windowId, limit],
  );
  return r.rows;
}
