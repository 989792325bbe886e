import type { Queryable } from '../queryable';

/** Restore runs whose row says running (at most one: a unique index). */
export async function runningRestoreRuns(db: Queryable): Promise<{ id: number; workflowId: string }[]> {
  const { rows } = await db.query<{ id: string; workflow_id: string }>(`SELECT id, workflow_id FROM nightshift.restore_run WHERE state = 'running'`);
  return rows.map((r) => ({ id: Number(r.id), workflowId: r.workflow_id }));
}
