import type { BatchAccount } from '../domain/backup-batch';
import { defineQuery } from '@temporalio/workflow';
import type { SelectionCursor } from '../domain/backup-batch';
import { FailureType } from '../domain/failures';
import type { DossierFailure, FanOutInFlight } from '../domain/run-details';
import { type FanOutRunTuning, type RunMailInput, failureResult, runResult } from './fan-out.api';

/** Contract of the backup batch of modified dossiers (R-BK-1 .. R-BK-9). Imports nothing from Node. */

export const BACKUP_BATCH_KIND = 'backup-batch';
export const BACKUP_MAIL_KIND = 'backup-report-mail';

/** How the batch cuts its work (workflows/fan-out.api.ts); defaults suit 2 cores. Tests and benchmarks change them. */
export type BackupBatchTuning = FanOutRunTuning;

export const DEFAULT_BACKUP_BATCH_TUNING: BackupBatchTuning = {
  chunkSize: 50,
  window: 2,
  concurrency: 2,
  chunkTimeBudgetMs: 5_000,
  maxChunksPerRun: 400,
  // a dead worker's chunk goes to another worker ~10 s after the kill (issue 10: was 1 minute); the
  // chunk heartbeats every 2 s from a timer, so a dossier that takes minutes does not time out
  heartbeatTimeout: '10 seconds',
};

export const BACKUP_TRIGGERS = ['manual', 'schedule', 'retry'] as const;
export type BackupTrigger = (typeof BACKUP_TRIGGERS)[number];

/** What the batch needs of the settings for the dossiers themselves, fixed when the run is claimed. */
export interface BatchDossierSettings {
  /** absolute folder of the B{code}.SVG files (backup folder + optional date sub-folder of the run's start) */
  destinationDir: string;
  documents: boolean;
  /** the backup folder, root of the generations (R-BK-11); absent in runs started before generations */
  generationsRoot?: string;
}

export interface BackupBatchTotals {
  /** selected when the run was claimed (an estimate: dossiers modified meanwhile join) */
  selected: number;
  done: number;
  ok: number;
  inUse: number;
  failed: number;
}

/** Carried across continue-as-new: everything before the cursor is done, `pending` are handed-back codes. */
export interface BackupBatchState {
  runId: number;
  settings: BatchDossierSettings;
  cursor: SelectionCursor;
  exhausted: boolean;
  pending: string[][];
  totals: BackupBatchTotals;
  /** workflow time of the first run's start (ms), for the rate */
  startedAtMs: number;
  chunkSeq: number;
  generation: number;
  /** the newest failures (capped; absent in states carried by older code) */
  failures?: DossierFailure[];
  failuresTotal?: number;
}

export interface BackupBatchInput {
  target: string;
  /** ignore "modified only" (R-BK-9): back up every selected dossier */
  all?: boolean;
  /** restrict to these codes */
  only?: string[];
  /** back up only the failed dossiers of this run */
  retryOf?: number;
  trigger?: BackupTrigger;
  tuning?: Partial<BackupBatchTuning>;
  /** set by continue-as-new only */
  state?: BackupBatchState;
}

export type BackupRunState = 'running' | 'completed' | 'partial' | 'failed';

export interface BackupBatchResult {
  target: string;
  runId: number;
  state: Exclude<BackupRunState, 'running'>;
  total: number;
  ok: number;
  failed: number;
  reportPath: string | null;
  /** whether the report is being mailed (R-BK-8: only when a dossier failed and recipients are set) */
  mail: boolean;
  /** the newest dossiers not backed up, from the ledger (capped; `backup status RUN` lists them all) */
  failures: DossierFailure[];
  failuresTotal: number;
  /** what to run next when dossiers were not backed up */
  retryCommand: string | null;
  /**
   * `failed` above is every dossier not backed up (the report's « en erreur(s) »); this says which: in use, failed, not
   * attempted (a stopped batch), and why it stopped (R-OP-1: the CLI and the Web UI say the same). Absent before 2026-12-06.
   */
  account?: BatchAccount;
}

/**
 * A batch that ends with dossiers not backed up FAILS its workflow (visible in the Web UI's list) with
 * this non-retryable type; details[0] is the whole BackupBatchResult (state partial or failed).
 */
export const BACKUP_BATCH_PARTIAL = FailureType.BackupBatchPartial;

/** The BackupBatchResult a BackupBatchPartial failure carries (also through a child workflow or a WorkflowFailedError), else undefined. */
export const partialBatchResult = (err: unknown): BackupBatchResult | undefined => failureResult<BackupBatchResult>(err, BACKUP_BATCH_PARTIAL);

/** The batch's result whether it completed or ended partial (any other failure is rethrown). */
export const batchResult = (result: Promise<unknown>): Promise<BackupBatchResult> => runResult<BackupBatchResult>(result, BACKUP_BATCH_PARTIAL);

/** The copyable next steps (ASCII `--`). */
export const backupRetryCommand = (target: string, runId: number): string => `nightshift backup retry --target ${target} --run ${runId}`;
export const backupStatusCommand = (target: string, runId: number): string => `nightshift backup status ${runId} --target ${target}`;

export const BACKUP_BATCH_PHASES = ['claiming', 'running', 'reporting', 'completed', 'partial', 'failed'] as const;
export type BackupBatchPhase = (typeof BACKUP_BATCH_PHASES)[number];

export interface BackupBatchProgress {
  target: string;
  runId: number | null;
  phase: BackupBatchPhase;
  selected: number;
  done: number;
  ok: number;
  inUse: number;
  failed: number;
  /** dossiers per second since the start */
  rate: number;
  /** null when unknown: no rate yet, or stalled */
  etaSeconds: number | null;
  generation: number;
  reportPath: string | null;
  /** seconds since a dossier last ended, from the ledger (>= 30 while dossiers are left: stalled) */
  sinceLastEndSeconds?: number | null;
  /** dossiers in flight on the worker that runs this workflow, and for how long */
  inFlight?: FanOutInFlight[];
  /** the newest failures (capped) */
  failures?: DossierFailure[];
}

export const backupBatchProgressQuery = defineQuery<BackupBatchProgress>('progress');

/** `backup/{target}/{timestamp}`: the CLI computes the timestamp (YYYYMMDD-HHMMSS, local). */
export const backupBatchWorkflowId = (target: string, timestamp: string): string => `backup/${target}/${timestamp}`;
/** Scheduled runs: the server appends the scheduled time to this id. */
export const scheduledBackupWorkflowId = (target: string): string => `backup/${target}/scheduled`;
export const backupScheduleId = (target: string): string => `backup-schedule/${target}`;
export const backupMailWorkflowId = (batchWorkflowId: string): string => `${batchWorkflowId}/mail`;

export type BackupMailInput = RunMailInput;
