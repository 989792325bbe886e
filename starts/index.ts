import type { Client, ScheduleOptionsStartWorkflowAction, WorkflowHandleWithFirstExecutionRunId, WorkflowStartOptions } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { z } from 'zod';
import { backupDossierInputSchema, restoreDossierInputSchema } from '../domain/backup';
import { backupBatchInputSchema } from '../domain/backup-batch-input';
import { backupPruneInputSchema } from '../domain/prune-input';
import { BACKUP_PRUNE_KIND, type BackupPruneInput, backupPruneWorkflowId } from '../workflows/backup-prune.api';
import { maintenanceWindowInputSchema } from '../domain/maintenance-input';
import { maxFailuresSchema, patchClaimSchema } from '../domain/patch-input';
import { workflowIdTimestamp } from '../domain/workflow-id';
import { BACKUP_BATCH_KIND, type BackupBatchInput, backupBatchWorkflowId, backupScheduleId, scheduledBackupWorkflowId } from '../workflows/backup-batch.api';
import { BACKUP_KIND, type BackupEvent, RESTORE_KIND, type RestoreDossierInput, backupDossierWorkflowId, backupTriggerWorkflowId, restoreDossierWorkflowId } from '../workflows/backup-dossier.api';
import { WORKFLOW, type WorkflowName, type Workflows } from '../workflows/contracts';
import { type MaintenanceWindowInput, maintenanceStartOptions } from '../workflows/maintenance-window.api';
import { PATCH_KIND, type PatchIntegrationInput, patchWorkflowId } from '../workflows/patch-integration.api';
import { PATCH_ROLLBACK_KIND, type PatchRollbackInput, patchRollbackWorkflowId, rollbackScopeText } from '../workflows/patch-rollback.api';
import { rollbackInputSchema } from '../domain/rollback-input';
import { restoreRunInputSchema } from '../domain/restore-run-input';
import { RESTORE_RUN_KIND, type RestoreRunInput, restoreRunWorkflowId, restoreScopeText } from '../workflows/backup-restore-run.api';
import { followWithoutWorker } from '../domain/run-details';
import { nightshiftAttributes } from '../workflows/search-attributes';
import { backupVerifyInputSchema } from '../domain/backup-verify';
import { BACKUP_VERIFY_KIND, type BackupVerifyInput, backupVerifyWorkflowId, scheduledVerifyWorkflowId, verifyScheduleId } from '../workflows/backup-verify.api';

/**
 * Typed starts of every workflow from outside Temporal (CLI, gate, tests, the Schedule's action). Each one
 * validates its input with the contract's zod schema BEFORE anything is started (a ZodError, which the CLI
 * reports as bad usage), derives the workflow id (one UTC time format, domain/workflow-id.ts), a static
 * summary and the search attributes (workflows/search-attributes.ts), and names the workflow through
 * workflows/contracts.ts: no type string and no untyped argument at a call site.
 * Never imported by workflow code (@temporalio/client stays out of the workflow bundle).
 */

export type Started<N extends WorkflowName> = WorkflowHandleWithFirstExecutionRunId<Workflows[N]>;

export interface StartOptions {
  taskQueue: string;
  /** the Web UI's static summary; each start has a default */
  summary?: string;
  /** tests only: an id of their own instead of the contract's */
  workflowId?: string;
  /** the instant in the id of a timestamped run (default: now) */
  now?: Date;
  /** false where the server has no Nightshift search attributes (the time-skipping test server) */
  searchAttributes?: boolean;
}

/** The one call that starts a workflow: name, arguments and result typed by the contract. */
function start<N extends WorkflowName>(client: Client, name: N, options: WorkflowStartOptions<Workflows[N]>): Promise<Started<N>> {
  return client.workflow.start<Workflows[N]>(name, options);
}

/**
 * A run named by the second it starts in (`backup-verify/main/20261202T232929Z`): the id is never reused. Two
 * starts in one second (a verify by hand just after the batch's own, two operators) would otherwise share an id,
 * and the second would find the first's run row (claimed by workflow id) and be refused as late work; the
 * second takes the next second's id instead (up to 10 tries), the server refusing a duplicate even of a closed run.
 * An explicit `workflowId` (tests) is used as given.
 */
async function startTimestamped<N extends WorkflowName>(
  client: Client,
  name: N,
  o: StartOptions,
  idAt: (timestamp: string) => string,
  options: (workflowId: string) => WorkflowStartOptions<Workflows[N]>,
): Promise<Started<N>> {
  if (o.workflowId) return start(client, name, options(o.workflowId));
  const at = (o.now ?? new Date()).getTime();
  for (let k = 0; ; k++) {
    const workflowId = idAt(workflowIdTimestamp(new Date(at + k * 1000)));
    try {
      return await start(client, name, { ...options(workflowId), workflowIdReusePolicy: 'REJECT_DUPLICATE', workflowIdConflictPolicy: 'FAIL' });
    } catch (e) {
      if (!(e instanceof WorkflowExecutionAlreadyStartedError) || k >= 9) throw e;
    }
  }
}


const attributes = (o: StartOptions, a: Parameters<typeof nightshiftAttributes>[0]) => (o.searchAttributes === false ? undefined : nightshiftAttributes(a));

/** One dossier into B{code}.SVG (R-BK-5); `event`: the R-BK-9 event backup, under that event's id. */
export async function startBackupDossier(client: Client, raw: z.input<typeof backupDossierInputSchema>, o: StartOptions & { event?: BackupEvent }): Promise<Started<'backupDossierWorkflow'>> {
  const input = backupDossierInputSchema.parse(raw);
  return start(client, WORKFLOW.backupDossier, {
    taskQueue: o.taskQueue,
    workflowId: o.workflowId ?? (o.event ? backupTriggerWorkflowId(input.target, input.code, o.event) : backupDossierWorkflowId(input.target, input.code)),
    // a second start while one runs is refused (the CLI and the gate report or reuse the running one)
    workflowIdConflictPolicy: 'FAIL',
    args: [input],
    staticSummary: o.summary ?? `Back up dossier ${input.code} (${input.reason})`,
    typedSearchAttributes: attributes(o, { target: input.target, kind: BACKUP_KIND, dossier: input.code, phase: 'starting' }),
  });
}

/** An archive restored into the dossier `as` (the id and NightshiftDossier name the dossier written). */
export async function startRestoreDossier(client: Client, raw: RestoreDossierInput & { as: string }, o: StartOptions): Promise<Started<'restoreDossierWorkflow'>> {
  const input = restoreDossierInputSchema.parse(raw);
  const code = input.as ?? raw.as;
  return start(client, WORKFLOW.restoreDossier, {
    taskQueue: o.taskQueue,
    workflowId: o.workflowId ?? restoreDossierWorkflowId(input.target, code),
    workflowIdConflictPolicy: 'FAIL',
    args: [input],
    staticSummary: o.summary ?? `Restore an archive as dossier ${code}${input.replace ? ' (replace)' : ''}`,
    typedSearchAttributes: attributes(o, { target: input.target, kind: RESTORE_KIND, dossier: code, phase: 'starting' }),
  });
}

export function backupBatchSummary(input: BackupBatchInput): string {
  if (input.retryOf) return `Retry the failed dossiers of backup run ${input.retryOf} of target ${input.target}`;
  const which = input.only ? `${input.only.length} chosen` : input.all ? 'all the' : 'the modified';
  return `Back up ${which} dossiers of target ${input.target}`;
}

/** The backup batch (R-BK-1 … R-BK-9): `backup/{target}/{UTC timestamp}`. */
export async function startBackupBatch(client: Client, raw: BackupBatchInput, o: StartOptions): Promise<Started<'backupBatchWorkflow'>> {
  const input: BackupBatchInput = backupBatchInputSchema.parse(raw);
  return startTimestamped(client, WORKFLOW.backupBatch, o, (ts) => backupBatchWorkflowId(input.target, ts), (workflowId) => ({
    taskQueue: o.taskQueue,
    workflowId,
    args: [input],
    staticSummary: o.summary ?? backupBatchSummary(input),
    staticDetails: followWithoutWorker(`nightshift backup status ${workflowId} --target ${input.target}`),
    typedSearchAttributes: attributes(o, { target: input.target, kind: BACKUP_BATCH_KIND, phase: 'claiming' }),
  }));
}

/** The nightly Schedule's action: the batch of the modified dossiers, with a summary in the list and the search attributes. */
export function scheduledBackupBatchAction(target: string, taskQueue: string): ScheduleOptionsStartWorkflowAction<Workflows['backupBatchWorkflow']> {
  const input: BackupBatchInput = backupBatchInputSchema.parse({ target, trigger: 'schedule' });
  return {
    type: 'startWorkflow',
    workflowType: WORKFLOW.backupBatch,
    // the server appends the scheduled time (RFC 3339, UTC): backup/{target}/scheduled-2026-12-02T20:00:00Z
    workflowId: scheduledBackupWorkflowId(target),
    taskQueue,
    args: [input],
    staticSummary: `Nightly backup of the modified dossiers of target ${target} (schedule ${backupScheduleId(target)})`,
    // the server names each run: the latest run is the one `backup status` shows
    staticDetails: followWithoutWorker(`nightshift backup status --target ${target}`),
    typedSearchAttributes: nightshiftAttributes({ target, kind: BACKUP_BATCH_KIND, phase: 'claiming' }),
  };
}

/** A patch run (R-PI-1 … R-PI-9): `patch/{target}/{UTC timestamp}`; its claim's fields are checked before the start. */
export async function startPatchRun(client: Client, raw: PatchIntegrationInput, o: StartOptions): Promise<Started<'patchIntegrationWorkflow'>> {
  const inputOf = (workflowId: string): PatchIntegrationInput => {
    const { workflowId: _id, ...claim } = patchClaimSchema.parse({
      target: raw.target,
      workflowId,
      mode: raw.mode,
      dir: raw.dir,
      dossiers: raw.dossiers,
      retryOf: raw.retryOf,
      windowWorkflowId: raw.windowWorkflowId,
      restorePoints: raw.restorePoints,
    });
    return { ...claim, ...(raw.maxFailures ? { maxFailures: maxFailuresSchema.parse(raw.maxFailures) } : {}), ...(raw.tuning ? { tuning: raw.tuning } : {}) };
  };
  return startTimestamped(client, WORKFLOW.patchIntegration, o, (ts) => patchWorkflowId(raw.target, ts), (workflowId) => {
    const input = inputOf(workflowId);
    return {
      taskQueue: o.taskQueue,
      workflowId,
      args: [input],
      staticSummary: o.summary ?? `Patch integration (${input.mode}) on target ${input.target}`,
      staticDetails: followWithoutWorker(`nightshift patch status --target ${input.target}`),
      typedSearchAttributes: attributes(o, { target: input.target, kind: PATCH_KIND, phase: 'starting' }),
    };
  });
}

/**
 * A recurring window's Schedule action (R-MW-13): one maintenance window per occurrence, its template's
 * times moved to the occurrence by the workflow; `workflowId` gets the scheduled time appended by the server.
 */
export function recurringWindowAction(raw: MaintenanceWindowInput, o: { taskQueue: string; workflowId: string; summary: string }): ScheduleOptionsStartWorkflowAction<Workflows['maintenanceWindowWorkflow']> {
  const input: MaintenanceWindowInput = maintenanceWindowInputSchema.parse(raw);
  if (!input.recurrence) throw new Error('a recurring window needs its recurrence (schedule id, announce ahead)');
  return {
    type: 'startWorkflow',
    workflowType: WORKFLOW.maintenanceWindow,
    workflowId: o.workflowId,
    taskQueue: o.taskQueue,
    args: [input],
    staticSummary: o.summary,
    staticDetails: followWithoutWorker(`nightshift maintenance status --target ${input.target}`),
    typedSearchAttributes: nightshiftAttributes({ target: input.target, kind: 'maintenance', phase: 'scheduled' }),
  };
}

/** A patch rollback (R-PI-11): `patch-rollback/{target}/{UTC timestamp}`; its scope is checked before the start. */
export async function startPatchRollback(client: Client, raw: PatchRollbackInput, o: StartOptions): Promise<Started<'patchRollbackWorkflow'>> {
  const input: PatchRollbackInput = rollbackInputSchema.parse(raw);
  return startTimestamped(client, WORKFLOW.patchRollback, o, (ts) => patchRollbackWorkflowId(input.target, ts), (workflowId) => ({
    taskQueue: o.taskQueue,
    workflowId,
    args: [input],
    staticSummary: o.summary ?? `Roll back ${rollbackScopeText(input)} on target ${input.target} to their restore points`,
    staticDetails: followWithoutWorker(`nightshift patch status --target ${input.target}`),
    typedSearchAttributes: attributes(o, { target: input.target, kind: PATCH_ROLLBACK_KIND, phase: 'starting' }),
  }));
}

/** A bulk restore run (`backup restore --all|--codes|--retry`): `backup-restore-run/{target}/{UTC timestamp}`; its input is checked before the start. */
export async function startRestoreRun(client: Client, raw: RestoreRunInput, o: StartOptions): Promise<Started<'backupRestoreRunWorkflow'>> {
  const input = restoreRunInputSchema.parse(raw) as RestoreRunInput;
  return startTimestamped(client, WORKFLOW.backupRestoreRun, o, (ts) => restoreRunWorkflowId(input.target, ts), (workflowId) => ({
    taskQueue: o.taskQueue,
    workflowId,
    args: [input],
    staticSummary: o.summary ?? `Restore ${restoreScopeText(input)} of target ${input.target} as at ${input.at}${input.replace ? ' (replace)' : ''}`,
    staticDetails: followWithoutWorker(`nightshift backup restore --run ${workflowId} --target ${input.target}`),
    typedSearchAttributes: attributes(o, { target: input.target, kind: RESTORE_RUN_KIND, phase: 'starting' }),
  }));
}

/** A maintenance window (R-MW-1 … R-MW-12): one per target (`maintenance/{target}`), refused while one runs. */
export async function startMaintenanceWindow(client: Client, raw: MaintenanceWindowInput, o: StartOptions): Promise<Started<'maintenanceWindowWorkflow'>> {
  const input: MaintenanceWindowInput = maintenanceWindowInputSchema.parse(raw);
  const options = maintenanceStartOptions(input, o.taskQueue, o.summary ?? `${input.type} maintenance on ${input.target}`);
  return start(client, WORKFLOW.maintenanceWindow, {
    ...options,
    staticDetails: followWithoutWorker(`nightshift maintenance status --target ${input.target}`),
    workflowId: o.workflowId ?? options.workflowId,
    typedSearchAttributes: attributes(o, { target: input.target, kind: 'maintenance', phase: 'scheduled' }),
  });
}

export function backupVerifySummary(input: BackupVerifyInput): string {
  const what = input.codes ? `the generations of ${input.codes.length} dossier(s)` : input.backupRunId !== undefined ? `what backup run ${input.backupRunId} wrote` : 'every kept generation';
  return `Verify ${what} of target ${input.target}${input.full ? ' (full: every one restored)' : ''}`;
}

/** The verification of kept generations (R-BK-13): `backup-verify/{target}/{UTC timestamp}`. */
export async function startBackupVerify(client: Client, raw: BackupVerifyInput, o: StartOptions): Promise<Started<'backupVerifyWorkflow'>> {
  const input = backupVerifyInputSchema.parse(raw) as BackupVerifyInput;
  return startTimestamped(client, WORKFLOW.backupVerify, o, (ts) => backupVerifyWorkflowId(input.target, ts), (workflowId) => ({
    taskQueue: o.taskQueue,
    workflowId,
    args: [input],
    staticSummary: o.summary ?? backupVerifySummary(input),
    staticDetails: followWithoutWorker(`nightshift backup verify status ${workflowId} --target ${input.target}`),
    typedSearchAttributes: attributes(o, { target: input.target, kind: BACKUP_VERIFY_KIND, phase: 'claiming' }),
  }));
}

/** The verify Schedule's action: every kept generation (a sample restored, or all with `full`). */
export function scheduledVerifyAction(target: string, taskQueue: string, full = false, rotate?: number): ScheduleOptionsStartWorkflowAction<Workflows['backupVerifyWorkflow']> {
  // --rotate T: each scheduled run reads the next of T parts of every kept generation
  const input = backupVerifyInputSchema.parse({ target, trigger: 'schedule', ...(full ? { full } : {}), ...(rotate ? { subset: { of: rotate } } : {}) }) as BackupVerifyInput;
  return {
    type: 'startWorkflow',
    workflowType: WORKFLOW.backupVerify,
    workflowId: scheduledVerifyWorkflowId(target),
    taskQueue,
    args: [input],
    staticSummary: `Scheduled verification of the kept backups of target ${target} (schedule ${verifyScheduleId(target)})`,
    staticDetails: followWithoutWorker(`nightshift backup verify status --target ${target}`),
    typedSearchAttributes: nightshiftAttributes({ target, kind: BACKUP_VERIFY_KIND, phase: 'claiming' }),
  };
}

/** The prune of generations by retention (R-BK-11): `backup-prune/{target}/{UTC timestamp}`. */
export async function startBackupPrune(client: Client, raw: BackupPruneInput, o: StartOptions): Promise<Started<'backupPruneWorkflow'>> {
  const input: BackupPruneInput = backupPruneInputSchema.parse(raw);
  return startTimestamped(client, WORKFLOW.backupPrune, o, (ts) => backupPruneWorkflowId(input.target, ts), (workflowId) => ({
    taskQueue: o.taskQueue,
    workflowId,
    args: [input],
    staticSummary: o.summary ?? `${input.dryRun ? 'Dry run: what retention would prune' : 'Prune the generations retention does not keep'} (target ${input.target})`,
    staticDetails: followWithoutWorker(`nightshift backup info --target ${input.target}`),
    typedSearchAttributes: attributes(o, { target: input.target, kind: BACKUP_PRUNE_KIND, phase: 'planning' }),
  }));
}
