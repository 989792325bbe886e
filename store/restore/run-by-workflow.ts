import type { Prerequisite } from '../../workflows/fan-out.api';
import type { Queryable } from '../queryable';

/** The restore run a workflow claimed (a retried claim finds its own row). */
export async function restoreRunByWorkflow(db: Queryable, workflowId: string): Promise<{ id: number; state: string; prerequisites: Prerequisite[] } | undefined> {
  const { rows } = await db.query<{ id: string; state: string; prerequisites: Prerequisite[] }>('SELECT id, state, prerequisites FROM nightshift.restore_run WHERE workflow_id = $1', [workflowId]);
  const r = rows[0];
  return r && { id: Number(r.id), state: r.state, prerequisites: r.prerequisites };
}
