import type { ActivityDeps } from './deps';
import type { BackupDossierInput, BackupDossierResult, RestoreDossierInput, RestoreDossierResult } from '../workflows/backup-dossier.api';

/** Single-dossier backup engine (placeholder, filled by the backup engine work). */
export function createBackupActivities(_deps: ActivityDeps) {
  return {
    async backupDossier(_input: BackupDossierInput): Promise<BackupDossierResult> {
      throw new Error('not implemented');
    },
    async restoreDossier(_input: RestoreDossierInput): Promise<RestoreDossierResult> {
      throw new Error('not implemented');
    },
  };
}
