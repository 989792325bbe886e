import type { Queryable } from '../queryable';

/** Rollback runs whose row says running (at most one: a unique index). */
export async function runningRollbackRuns(db: Queryable): Promise<{ id: number; workflowId: string }[]> {
  const { rows } = await db.query<{ id: string; workflow_id: string }>(`SELECT id, workflow_id FROM nightshift.patch_rollback_run WHERE state = 'running'`);
  return rows.map((r) => ({ id: Number(r.id), workflowId: r.workflow_id }));
}
