import type pg from 'pg';
import type { Client } from '@temporalio/client';
import { closeAbandonedRun } from '../store/backup/close-abandoned-run';
import { type DossierWorkKind, runningPatchWork } from '../store/backup/running-patch-work';
import { runningRuns } from '../store/backup/running-runs';
import { mayStillRun, workflowStatus } from '../workers/resources';

/** A backup run or patch work whose workflow may still run on the target (its row says running, Temporal agrees or does not answer). */
export interface LiveWork {
  kind: 'backup run' | DossierWorkKind;
  id: number | string;
  workflowId: string;
  startedAt?: Date;
}

/**
 * The runs on the target that a backup batch or a window's payload must not start beside (R-BK-1: one batch at a time;
 * R-PI-2: no batch while patch levels change; no batch while dossiers are restored): running backup runs, then patch
 * runs, rollbacks and restore runs, each checked against
 * Temporal. A backup run whose workflow is gone (terminated) is closed as abandoned here, as the next claim would.
 */
export async function liveWorkOnTarget(pool: pg.Pool, client: Client): Promise<LiveWork[]> {
  const live: LiveWork[] = [];
  for (const run of await runningRuns(pool)) {
    const status = await workflowStatus(client, run.workflow_id);
    if (mayStillRun(status)) live.push({ kind: 'backup run', id: run.id, workflowId: run.workflow_id, startedAt: run.started_at });
    else await closeAbandonedRun(pool, run.id, status);
  }
  for (const work of await runningPatchWork(pool)) {
    if (mayStillRun(await workflowStatus(client, work.workflowId))) live.push({ kind: work.kind, id: work.id, workflowId: work.workflowId });
  }
  return live;
}
