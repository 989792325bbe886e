/** Every workflow the worker registers. */
export { backupDossierWorkflow, restoreDossierWorkflow } from './backup-dossier';
export { maintenanceMailWorkflow, maintenanceWindowWorkflow } from './maintenance-window';
export { backupBatchWorkflow, backupReportMailWorkflow } from './backup-batch';
export { patchIntegrationWorkflow } from './patch-integration';
export { patchRollbackWorkflow } from './patch-rollback';
export { backupVerifyWorkflow, backupVerifyMailWorkflow } from './backup-verify';
export { backupPruneWorkflow } from './backup-prune';
export { backupRestoreRunWorkflow } from './backup-restore-run';
