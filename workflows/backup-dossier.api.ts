import { defineQuery } from '@temporalio/workflow';

/** Contract of the single-dossier backup workflow (R-BK-5, R-BK-6, R-BK-9). Imports nothing from Node. */

export const BACKUP_REASONS = ['manual', 'echange-prestataire', 'cloture'] as const;
export type BackupReason = (typeof BACKUP_REASONS)[number];

export interface BackupDossierInput {
  target: string;
  code: string;
  reason: BackupReason;
  /** Put the archive in a sub-folder named from the date (rotation, R-BK-9). */
  dateSubfolder?: boolean;
  /** Include the dossier's documents folder (R-BK-9, default no). */
  includeDocuments?: boolean;
}

export interface BackupDossierResult {
  target: string;
  code: string;
  file: string;
  bytes: number;
  tables: number;
  rows: number;
  documents: number;
  durationMs: number;
  /** Time of the consistent snapshot; recorded as the dossier's last-backup-at. */
  snapshotAt: string;
  /** the generation recorded (R-BK-11), when the archive was kept as one */
  generationId?: number;
  /** R-BK-14: its off-site copy, when the worker copies off-site (absent: no bucket configured, or a run from before) */
  offsite?: BackupOffsiteCopy;
}

/**
 * A single-dossier backup's off-site copy (R-BK-14), recorded on its generation as the batch records its own. A
 * failed copy leaves the backup done: the generation stays, `offsite failed`, and the next batch copies it first.
 */
export type BackupOffsiteCopy = { state: 'copied'; bucket: string; key: string } | { state: 'failed'; error: string };

export const backupDossierWorkflowId = (target: string, code: string): string => `backup-dossier/${target}/${code}`;

/** R-BK-9: the events on which the business application (gate) or a script asks for a single-dossier backup. */
export const BACKUP_EVENTS = ['provider-exchange', 'closing', 'exit'] as const;
export type BackupEvent = (typeof BACKUP_EVENTS)[number];

/** One id per dossier and event: a second trigger while the first backup runs finds it instead of starting another. */
export const backupTriggerWorkflowId = (target: string, code: string, event: BackupEvent): string => `backup-dossier/${target}/${code}/${event}`;

export interface RestoreDossierInput {
  target: string;
  /** Absolute path of the archive, readable by the worker. */
  file: string;
  /** Restore under another code (default: the code in the archive). */
  as?: string;
  /** Replace an existing dossier of that code (refused otherwise). */
  replace: boolean;
  /** The generation `file` is (R-BK-11, restore --at): read under a lease, so that no prune deletes it meanwhile. */
  generationId?: number;
  /**
   * Where a generation is read from (R-BK-14): `auto` (the default) the local file, or its off-site copy when the file
   * is missing on the worker; `local` the file only; `offsite` the copy only (the local file is suspect).
   */
  from?: RestoreSource;
}

export const RESTORE_SOURCES = ['auto', 'local', 'offsite'] as const;
export type RestoreSource = (typeof RESTORE_SOURCES)[number];

export interface RestoreDossierResult {
  target: string;
  code: string;
  tables: number;
  rows: number;
  documents: number;
  durationMs: number;
  /** present when the archive was read from the generation's off-site copy (R-BK-14) */
  offsiteCopy?: { bucket: string; key: string };
  /** the patch numbers whose ledger rows held a checksum a `patch repair` since the archive replaced: realigned (R-PI-8) */
  ledgerRealigned?: number[];
}

export const restoreDossierWorkflowId = (target: string, code: string): string => `restore-dossier/${target}/${code}`;

export const BACKUP_PHASES = ['starting', 'writing', 'copying', 'restoring', 'done', 'failed'] as const;
export type BackupPhase = (typeof BACKUP_PHASES)[number];

/** What the progress query answers; the same text is the workflow's current details in the Web UI. */
export interface BackupProgress {
  phase: BackupPhase;
  detail: string;
}

export const backupPhaseQuery = defineQuery<string>('phase');
export const backupProgressQuery = defineQuery<BackupProgress>('progress');

/** Search attribute values (workflows/search-attributes.ts) of the two workflows. */
export const BACKUP_KIND = 'backup-dossier';
export const RESTORE_KIND = 'restore-dossier';

/** What `backup restore --verify-only` prints: the checked manifest's essentials. */
export interface VerifyArchiveResult {
  file: string;
  code: string;
  label: string;
  patchLevel: number;
  createdAt: string;
  snapshotAt: string;
  codec: string;
  tables: { name: string; rows: number }[];
  documents: number;
  parts: number;
}
