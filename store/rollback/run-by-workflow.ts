import type { Prerequisite } from '../../workflows/patch-integration.api';
import type { Queryable } from '../queryable';

/** The rollback run a workflow claimed (a retried claim finds its own row). */
export async function rollbackRunByWorkflow(db: Queryable, workflowId: string): Promise<{ id: number; state: string; prerequisites: Prerequisite[]; error: string | null } | undefined> {
  const { rows } = await db.query<{ id: string; state: string; prerequisites: Prerequisite[]; error: string | null }>(
    'SELECT id, state, prerequisites, error FROM nightshift.patch_rollback_run WHERE workflow_id = $1',
    [workflowId],
  );
  const r = rows[0];
  return r && { id: Number(r.id), state: r.state, prerequisites: r.prerequisites, error: r.error };
}
