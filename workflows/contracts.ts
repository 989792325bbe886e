import type { BackupBatchInput, BackupBatchResult, BackupMailInput } from './backup-batch.api';
import type { BackupDossierInput, BackupDossierResult, RestoreDossierInput, RestoreDossierResult } from './backup-dossier.api';
import type { MaintenanceMailInput, MaintenanceWindowInput, MaintenanceWindowResult } from './maintenance-window.api';
import type { PatchIntegrationInput, PatchRunResult } from './patch-integration.api';
import type { PatchRollbackInput, RollbackRunResult } from './patch-rollback.api';
import type { BackupVerifyInput, BackupVerifyResult, VerifyMailInput } from './backup-verify.api';
import type { BackupPruneInput, BackupPruneResult } from './backup-prune.api';
import type { RunMailResult } from './fan-out.api';
import type { RestoreRunInput, RestoreRunResult } from './backup-restore-run.api';

/**
 * Every workflow the worker registers, by type name, with the signature its contract module promises.
 * Starts (starts/, the Schedule, child workflows) name a workflow through WORKFLOW and type their
 * arguments and results through Workflows; workflows/index.check.ts fails `tsc` if this list and
 * workflows/index.ts differ in a name or a signature. Imports nothing from Node (workflows use it too).
 */
export interface Workflows {
  backupDossierWorkflow: (input: BackupDossierInput) => Promise<BackupDossierResult>;
  restoreDossierWorkflow: (input: RestoreDossierInput) => Promise<RestoreDossierResult>;
  backupBatchWorkflow: (input: BackupBatchInput) => Promise<BackupBatchResult>;
  backupReportMailWorkflow: (input: BackupMailInput) => Promise<BackupMailResult>;
  patchIntegrationWorkflow: (input: PatchIntegrationInput) => Promise<PatchRunResult>;
  maintenanceWindowWorkflow: (input: MaintenanceWindowInput) => Promise<MaintenanceWindowResult>;
  maintenanceMailWorkflow: (input: MaintenanceMailInput) => Promise<{ sent: boolean }>;
  patchRollbackWorkflow: (input: PatchRollbackInput) => Promise<RollbackRunResult>;
  backupVerifyWorkflow: (input: BackupVerifyInput) => Promise<BackupVerifyResult>;
  backupVerifyMailWorkflow: (input: VerifyMailInput) => Promise<BackupMailResult>;
  backupPruneWorkflow: (input: BackupPruneInput) => Promise<BackupPruneResult>;
  backupRestoreRunWorkflow: (input: RestoreRunInput) => Promise<RestoreRunResult>;
}
export type WorkflowName = keyof Workflows;

/** What a report mail child answers (workflows/fan-out.ts mailRunReport). */
export type BackupMailResult = RunMailResult;

/** The registered type names; the only place they are spelled. */
export const WORKFLOW = {
  backupDossier: 'backupDossierWorkflow',
  restoreDossier: 'restoreDossierWorkflow',
  backupBatch: 'backupBatchWorkflow',
  backupReportMail: 'backupReportMailWorkflow',
  patchIntegration: 'patchIntegrationWorkflow',
  maintenanceWindow: 'maintenanceWindowWorkflow',
  maintenanceMail: 'maintenanceMailWorkflow',
  patchRollback: 'patchRollbackWorkflow',
  backupVerify: 'backupVerifyWorkflow',
  backupVerifyMail: 'backupVerifyMailWorkflow',
  backupPrune: 'backupPruneWorkflow',
  backupRestoreRun: 'backupRestoreRunWorkflow',
} as const satisfies Record<string, WorkflowName>;
