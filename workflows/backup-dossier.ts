import { proxyActivities } from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import type { BackupDossierInput, BackupDossierResult, RestoreDossierInput, RestoreDossierResult } from './backup-dossier.api';

const { backupDossier, restoreDossier } = proxyActivities<NightshiftActivities>({ startToCloseTimeout: '1 hour' });

export async function backupDossierWorkflow(input: BackupDossierInput): Promise<BackupDossierResult> {
  return backupDossier(input);
}

export async function restoreDossierWorkflow(input: RestoreDossierInput): Promise<RestoreDossierResult> {
  return restoreDossier(input);
}
