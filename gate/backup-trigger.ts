import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type pg from 'pg';
import type { Config } from '../config/config';
import { backupSettingsFor } from '../store/settings/backup-settings';
import { type BackupTriggerPlan, planBackupTrigger } from '../domain/backup-trigger';
import type { BackupEvent } from '../workflows/backup-dossier.api';
import { startBackupDossier } from '../starts';
import { type BackupTriggerState, readBackupTriggerState } from './store';

/**
 * R-BK-9 single-dossier backups on an event, as the gate's routes and `nightshift backup trigger` both
 * do them: read the dossier and the effective setting, then start the backup under the event's id.
 */

export type TriggeredPlan = Extract<BackupTriggerPlan, { triggered: true }>;

export interface TriggerCheck {
  state: BackupTriggerState;
  plan: BackupTriggerPlan;
}

/** The dossier's state and the event's plan, from the common settings in the target and this process's local values. */
export async function checkBackupTrigger(
  pool: pg.Pool,
  config: Config,
  target: string,
  code: string,
  event: BackupEvent,
  session?: { id: string; tokenHash: string },
): Promise<TriggerCheck> {
  const state = await readBackupTriggerState(pool, code, session);
  return { state, plan: planBackupTrigger(event, target, code, backupSettingsFor(config, target, state.commonSettings)) };
}

export interface StartedTrigger {
  workflowId: string;
  runId: string;
  /** a backup for this dossier and event was already running: it is the one answered, none was started */
  alreadyRunning: boolean;
}

/** Starts the plan's backup (input checked before the start); a second trigger while it runs gets the running one (conflict policy FAIL, then describe). */
export async function startTriggeredBackup(client: Client, taskQueue: string, plan: TriggeredPlan): Promise<StartedTrigger> {
  try {
    const handle = await startBackupDossier(client, plan.input, { taskQueue, event: plan.event, summary: plan.summary });
    return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, alreadyRunning: false };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const { runId } = await client.workflow.getHandle(plan.workflowId).describe();
    return { workflowId: plan.workflowId, runId, alreadyRunning: true };
  }
}

/** The answer (gate route, `backup trigger --json`) when the event's setting is off. */
export function disabledAnswer(plan: Extract<BackupTriggerPlan, { triggered: false }>) {
  return { triggered: false as const, event: plan.event, target: plan.target, dossier: plan.code, setting: plan.setting, reason: plan.reason, message: plan.message };
}

/** The answer (gate route, `backup trigger --json`) once the backup is started or found running. */
export function triggeredAnswer(plan: TriggeredPlan, started: StartedTrigger) {
  return {
    triggered: true as const,
    event: plan.event,
    target: plan.target,
    dossier: plan.code,
    setting: plan.setting,
    folder: plan.folder,
    workflowId: started.workflowId,
    runId: started.runId,
    alreadyRunning: started.alreadyRunning,
  };
}
