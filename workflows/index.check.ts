/**
 * Compile-time check (never bundled): every workflow the worker registers has exactly the signature its
 * contract module promises to the CLI, the gate and the tests. A drift fails `tsc`.
 */
import type * as registered from './index';
import type { BackupDossierInput, BackupDossierResult, RestoreDossierInput, RestoreDossierResult } from './backup-dossier.api';
import type { MaintenanceWindowInput, MaintenanceWindowResult } from './maintenance-window.api';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

export type Contracts = [
  Assert<Same<typeof registered.backupDossierWorkflow, (input: BackupDossierInput) => Promise<BackupDossierResult>>>,
  Assert<Same<typeof registered.restoreDossierWorkflow, (input: RestoreDossierInput) => Promise<RestoreDossierResult>>>,
  Assert<Same<typeof registered.maintenanceWindowWorkflow, (input: MaintenanceWindowInput) => Promise<MaintenanceWindowResult>>>,
];
