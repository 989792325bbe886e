import type { Client } from '@temporalio/client';
import type { Queryable } from '../store/queryable';
import { closeAbandonedRun } from '../store/patch/close-abandoned-run';
import { listRunningRuns } from '../store/patch/running-runs';
import { closeAbandonedRollbackRun } from '../store/rollback/close-abandoned-run';
import { runningRollbackRuns } from '../store/rollback/running-runs';
import { closeAbandonedRestoreRun } from '../store/restore/close-abandoned-run';
import { runningRestoreRuns } from '../store/restore/running-runs';
import { mayStillRun, workflowStatus } from '../workers/resources';

/**
 * Inside a patch, rollback or restore claim (R-PI-2): the patch runs, rollbacks and restore runs whose rows say running
 * while Temporal knows their workflow closed (terminated, timed out) are closed as abandoned, so that no claim is
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
  for (const r of await runningRestoreRuns(c)) {
    const status = await workflowStatus(temporal, r.workflowId);
    if (!mayStillRun(status)) await closeAbandonedRestoreRun(c, r.id, status);
  }
}
