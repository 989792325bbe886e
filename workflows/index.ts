/** Every workflow the worker registers. */
export { backupDossierWorkflow, restoreDossierWorkflow } from './backup-dossier';
export { maintenanceWindowWorkflow } from './maintenance-window';
