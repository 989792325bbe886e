import { defineQuery } from '@temporalio/workflow';
import { FailureType } from '../domain/failures';
import type { DossierFailure } from '../domain/run-details';
import { type ClaimedRunProgress, type RestoringRunCarriedState, type RestoringRunPhase, type RestoringRunTuning, failureResult } from './fan-out.api';

/**
 * Contract of the bulk restore run (`backup restore --all|--codes --at DATE`): each dossier's generation taken at or just
 * before DATE (R-BK-11, the choice of `backup restore CODE --at`), restored on the fan-out engine, each in one
 * transaction that also records it in the run's ledger (exactly once). A dossier already there is kept without
 * `replace`. The CLI and the tests import it; it imports nothing from Node.
 */

export const RESTORE_RUN_KIND = 'backup-restore-run';

export type RestoreRunTuning = RestoringRunTuning;
/** Sized for 2 cores as the rollback is: two dossiers restored at once, small chunks so that a dead worker's chunk goes elsewhere soon. */
export const DEFAULT_RESTORE_TUNING: RestoreRunTuning = { chunkSize: 10, concurrency: 2, heartbeatTimeoutSeconds: 10, maxChunksPerRun: 400, detailsEverySeconds: 5 };

export type RestoreRunSource = 'auto' | 'local' | 'offsite';

export interface RestoreRunInput {
  target: string;
  /** ISO instant: each dossier's generation taken at or just before it */
  at: string;
  /** only generations of this folder kind (default: the newest of any kind) */
  kind?: 'normal' | 'EchangePrest' | 'Cloture';
  /** replace a dossier already there (otherwise it is kept, not a failure) */
  replace: boolean;
  from: RestoreRunSource;
  /** these dossiers */
  codes?: string[];
  /** every dossier with a kept generation at or before `at` in the generations catalog */
  all?: true;
  /** the failed dossiers of this restore run, again */
  retryOf?: number;
  tuning?: Partial<RestoreRunTuning>;
  /** set by the workflow itself when it continues as new (never given by a caller) */
  state?: RestoreRunCarriedState;
}

export type RestoreRunPhase = RestoringRunPhase;

export interface RestoreRunProgress extends ClaimedRunProgress<RestoreRunPhase> {
  /** what was asked, in words (`every dossier of the catalog`, `DEMO0002 DEMO0003`, `the failed dossiers of restore run 3`) */
  scope: string;
  /** restored so far, kept (already there) so far: from the ledger */
  restored: number;
  kept: number;
  /** the instant in the operator's zone (`2026-12-05 23:59:59 (Europe/Paris)`), from the selection; runs of before: the ISO instant */
  atText?: string;
}

export type RestoreRunCarriedState = RestoringRunCarriedState<RestoreRunProgress>;

export type RestoreRunState = 'completed' | 'partial' | 'failed';

export interface RestoreRunResult extends RestoreRunProgress {
  state: RestoreRunState;
  /** the first restored / kept dossiers, by code */
  restoredCodes: string[];
  keptCodes: string[];
  failures: DossierFailure[];
  failuresTotal: number;
  /** with failures: the command that restores them again */
  retryCommand?: string;
}

export const restoreRunProgressQuery = defineQuery<RestoreRunProgress>('progress');

/** `backup-restore-run/{target}/{timestamp}` (domain/workflow-id.ts). */
export const restoreRunWorkflowId = (target: string, timestamp: string): string => `backup-restore-run/${target}/${timestamp}`;

/** `nightshift backup restore --retry N --target T --wait`: the failed dossiers of a restore run, again. */
export const restoreRetryCommand = (target: string, runId: number): string => `nightshift backup restore --retry ${runId} --target ${target} --wait`;

/** The scope in words, for the details, the summary and the CLI. */
export function restoreScopeText(i: Pick<RestoreRunInput, 'codes' | 'all' | 'retryOf'>): string {
  if (i.retryOf !== undefined) return `the failed dossiers of restore run ${i.retryOf}`;
  if (i.all) return 'every dossier of the generations catalog';
  const codes = i.codes ?? [];
  return codes.length <= 5 ? codes.join(' ') : `${codes.slice(0, 5).join(' ')} … (${codes.length} dossiers)`;
}

export const RestoreRunFailure = {
  InvalidInput: FailureType.InvalidInput,
  /** a backup batch, a patch run, a rollback or another restore run on the target */
  PrerequisiteFailed: FailureType.RestorePrerequisiteFailed,
  /** the run ended with dossiers not restored: its workflow fails with this type, the whole result in details[0] */
  RunPartial: FailureType.RestoreRunPartial,
  RunClosed: FailureType.RestoreRunClosed,
} as const;

/** The result of a restore run that ended with failed dossiers (RestoreRunPartial); undefined otherwise. */
export const partialRestoreRunResult = (err: unknown): RestoreRunResult | undefined => failureResult<RestoreRunResult>(err, FailureType.RestoreRunPartial);
