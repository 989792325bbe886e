import { ParentClosePolicy, executeChild, startChild, workflowInfo } from '@temporalio/workflow';
import { backupBatchInputSchema } from '../domain/backup-batch-input';
import { maxFailuresSchema, patchClaimSchema } from '../domain/patch-input';
import { parseInput } from '../domain/validation';
import { type BackupBatchInput, type BackupBatchResult, type BackupMailInput, backupMailWorkflowId } from './backup-batch.api';
import { WORKFLOW, type Workflows } from './contracts';
import type { PatchIntegrationInput, PatchRunResult } from './patch-integration.api';
import type { PatchRollbackInput, RollbackRunResult } from './patch-rollback.api';
import { rollbackInputSchema } from '../domain/rollback-input';
import { type NightshiftAttributes, NightshiftKind, nightshiftAttributes } from './search-attributes';
import { backupPruneInputSchema } from '../domain/prune-input';
import type { BackupPruneInput } from './backup-prune.api';
import { backupVerifyInputSchema } from '../domain/backup-verify';
import { type BackupVerifyInput, type VerifyMailInput, verifyMailWorkflowId } from './backup-verify.api';
import type { MaintenanceMailInput } from './maintenance-window.api';
import { followWithoutWorker } from '../domain/run-details';

/**
 * Typed child starts, the workflow-side twin of starts/index.ts: the child named through workflows/contracts.ts,
 * its input checked with the contract's schema before the start (a bad one fails the parent with InvalidInput,
 * nonRetryable), its search attributes from nightshiftAttributes.
 */

/** A child's search attributes, only when the parent has its own (the time-skipping test server registers none). */
export function childAttributes(a: NightshiftAttributes) {
  return workflowInfo().typedSearchAttributes.get(NightshiftKind) === undefined ? undefined : nightshiftAttributes(a);
}

export interface ChildStart {
  workflowId: string;
  summary: string;
}

/** The backup batch as a child (a window's payload). */
export async function executeBackupBatchChild(raw: BackupBatchInput, o: ChildStart): Promise<BackupBatchResult> {
  const input: BackupBatchInput = parseInput(backupBatchInputSchema, raw);
  return executeChild<Workflows['backupBatchWorkflow']>(WORKFLOW.backupBatch, {
    workflowId: o.workflowId,
    args: [input],
    staticSummary: o.summary,
    typedSearchAttributes: childAttributes({ target: input.target, kind: 'backup-batch', phase: 'claiming' }),
  });
}

/** A patch run as a child (a window's payload); its claim's fields are checked as a client start checks them. */
export async function executePatchRunChild(raw: PatchIntegrationInput, o: ChildStart): Promise<PatchRunResult> {
  const { workflowId: _id, ...claim } = parseInput(patchClaimSchema, { ...raw, tuning: undefined, workflowId: o.workflowId });
  // the claim's schema keeps the claim's fields only: the run's own (--max-failures, tuning) are added back
  const input: PatchIntegrationInput = {
    ...claim,
    ...(raw.maxFailures ? { maxFailures: parseInput(maxFailuresSchema, raw.maxFailures) } : {}),
    ...(raw.tuning ? { tuning: raw.tuning } : {}),
  };
  return executeChild<Workflows['patchIntegrationWorkflow']>(WORKFLOW.patchIntegration, {
    workflowId: o.workflowId,
    args: [input],
    staticSummary: o.summary,
    typedSearchAttributes: childAttributes({ target: input.target, kind: 'patch', phase: 'starting' }),
  });
}

/** A patch rollback as a child (a window's `onFailure: rollback`, R-PI-11). */
export async function executePatchRollbackChild(raw: PatchRollbackInput, o: ChildStart): Promise<RollbackRunResult> {
  const input: PatchRollbackInput = parseInput(rollbackInputSchema, raw);
  return executeChild<Workflows['patchRollbackWorkflow']>(WORKFLOW.patchRollback, {
    workflowId: o.workflowId,
    args: [input],
    staticSummary: o.summary,
    typedSearchAttributes: childAttributes({ target: input.target, kind: 'patch-rollback', phase: 'starting' }),
  });
}

/** The batch's report mail: its own workflow, abandoned by the batch (an SMTP outage retries for hours without holding it open). */
export async function startReportMailChild(input: BackupMailInput, batchWorkflowId: string): Promise<void> {
  await startChild<Workflows['backupReportMailWorkflow']>(WORKFLOW.backupReportMail, {
    workflowId: backupMailWorkflowId(batchWorkflowId),
    args: [input],
    // the Web UI's list says what it is (drill W, session 40: no summary)
    staticSummary: `Mail the report of backup run ${input.runId} (target ${input.target})`,
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: childAttributes({ target: input.target, kind: 'backup-report-mail' }),
  });
}

/** The verify report's mail (R-BK-13, on a problem only): its own workflow, abandoned by the verify run. */
export async function startVerifyMailChild(input: VerifyMailInput, verifyWorkflowId: string): Promise<void> {
  await startChild<Workflows['backupVerifyMailWorkflow']>(WORKFLOW.backupVerifyMail, {
    workflowId: verifyMailWorkflowId(verifyWorkflowId),
    args: [input],
    staticSummary: `Mail the report of verify run ${input.runId} (target ${input.target})`,
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: childAttributes({ target: input.target, kind: 'backup-verify-mail' }),
  });
}

/** A window's --notify mail it could not send (R-MW-10): its own workflow, abandoned by the window, retried for a day. */
export async function startMaintenanceMailChild(input: MaintenanceMailInput, workflowId: string): Promise<void> {
  await startChild<Workflows['maintenanceMailWorkflow']>(WORKFLOW.maintenanceMail, {
    workflowId,
    args: [input],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: childAttributes({ target: input.target, kind: 'maintenance-mail' }),
  });
}

/** The verification of what a batch run wrote (R-BK-13), started at the batch's end and abandoned by it. */
export async function startBatchVerifyChild(raw: BackupVerifyInput, o: ChildStart): Promise<void> {
  const input = parseInput(backupVerifyInputSchema, raw) as BackupVerifyInput;
  await startChild<Workflows['backupVerifyWorkflow']>(WORKFLOW.backupVerify, {
    workflowId: o.workflowId,
    args: [input],
    staticSummary: o.summary,
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: childAttributes({ target: input.target, kind: 'backup-verify', phase: 'claiming' }),
  });
}

/** The prune by retention (R-BK-11), started at the batch's end and abandoned by it (it outlives the batch). */
export async function startBatchPruneChild(raw: BackupPruneInput, o: ChildStart): Promise<void> {
  const input: BackupPruneInput = parseInput(backupPruneInputSchema, raw);
  await startChild<Workflows['backupPruneWorkflow']>(WORKFLOW.backupPrune, {
    workflowId: o.workflowId,
    args: [input],
    staticSummary: o.summary,
    // where its outcome is kept with no worker to ask (drill W, session 40: a prune had no details)
    staticDetails: followWithoutWorker(`nightshift backup info --target ${input.target}`),
    parentClosePolicy: ParentClosePolicy.ABANDON,
    typedSearchAttributes: childAttributes({ target: input.target, kind: 'backup-prune', phase: 'planning' }),
  });
}
