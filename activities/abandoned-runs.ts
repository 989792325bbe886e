import type { Client } from '@temporalio/client';
import type { Queryable } from '../store/queryable';
import { closeAbandonedRun } from '../store/patch/close-abandoned-run';
import { listRunningRuns } from '../store/patch/running-runs';
import { closeAbandonedRollbackRun } from '../store/rollback/close-abandoned-run';
import { runningRollbackRuns } from '../store/rollback/running-runs';
import { mayStillRun, workflowStatus } from '../workers/resources';

/**
 * Inside a patch or rollback claim (R-PI-2): the patch runs and rollbacks whose rows say running while Temporal
 * knows their workflow closed (terminated, timed out) are closed as abandoned, so that neither kind of claim is
 * refused forever by a run nobody runs. One that may still run (RUNNING, or Temporal not answering) stays.
 */
export async function closeAbandonedPatchWork(c: Queryable, temporal: Client): Promise<void> {
  for (const r of await listRunningRuns(c)) {
    const status = await workflowStatus(temporal, r.workflowId);
    if (!mayStillRun(status)) await closeAbandonedRun(c, r.id, status);
  }
  for (const r of await runningRollbackRuns(c)) {
    const status = await workflowStatus(temporal, r.workflowId);
    if (!mayStillRun(status)) await closeAbandonedRollbackRun(c, r.id, status);
  }
}
