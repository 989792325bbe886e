import type { Queryable } from '../queryable';

export interface RunningRun {
  /** bigint, as the driver returns it */
  id: string;
  workflowId: string;
}

/** The patch runs still marked 'running' (R-PI-2: one per target; an abandoned one blocks the next). */
export async function listRunningRuns(db: Queryable): Promise<RunningRun[]> {
  const { rows } = await db.query<{ id: string; workflow_id: string }>(`SELECT id, workflow_id FROM nightshift.patch_run WHERE state = 'running'`);
  return rows.map((r) => ({ id: r.id, workflowId: r.workflow_id }));
}
