import type { Prerequisite } from '../../workflows/patch-integration.api';
import type { Queryable } from '../queryable';

/** The run a workflow claimed (a retried claim finds its own row); undefined when it has none. */
export async function runByWorkflow(db: Queryable, workflowId: string): Promise<{ id: number; state: string; prerequisites: Prerequisite[] } | undefined> {
  const { rows } = await db.query<{ id: string; state: string; prerequisites: Prerequisite[] }>('SELECT id, state, prerequisites FROM nightshift.patch_run WHERE workflow_id = $1', [
    workflowId,
  ]);
  return rows[0] && { ...rows[0], id: Number(rows[0].id) };
}
