import type { Queryable } from '../queryable';

export type DossierWorkKind = 'patch run' | 'rollback' | 'restore run';

/**
 * The patch runs, rollbacks and restore runs still marked running on the target: what rewrites dossiers (their patch
 * levels, their whole content) while a backup batch would archive them (R-PI-2 seen from the batch's side).
 */
export async function runningPatchWork(db: Queryable): Promise<{ kind: DossierWorkKind; id: string; workflowId: string }[]> {
  const { rows } = await db.query<{ kind: DossierWorkKind; id: string; workflow_id: string }>(
    `SELECT 'patch run' AS kind, id::text, workflow_id FROM nightshift.patch_run WHERE state = 'running'
     UNION ALL
     SELECT 'rollback' AS kind, id::text, workflow_id FROM nightshift.patch_rollback_run WHERE state = 'running'
     UNION ALL
     SELECT 'restore run' AS kind, id::text, workflow_id FROM nightshift.restore_run WHERE state = 'running'`,
  );
  return rows.map((r) => ({ kind: r.kind, id: r.id, workflowId: r.workflow_id }));
}
