import type { Prerequisite } from '../../workflows/patch-integration.api';
import type { Queryable } from '../queryable';

/** The R-PI-2 prerequisites a worker recorded when it claimed this run; undefined while no worker has claimed it. */
export async function readRunPrerequisites(db: Queryable, workflowId: string): Promise<Prerequisite[] | undefined> {
  const { rows } = await db.query<{ prerequisites: Prerequisite[] }>('SELECT prerequisites FROM nightshift.patch_run WHERE workflow_id = $1', [workflowId]);
  return rows[0]?.prerequisites;
}
