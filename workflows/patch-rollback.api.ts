import { defineQuery } from '@temporalio/workflow';
import { FailureType } from '../domain/failures';
import type { DossierFailure } from '../domain/run-details';
import { type ClaimedRunProgress, RESTORING_RUN_PHASES, type RestoringRunCarriedState, type RestoringRunPhase, type RestoringRunTuning, failureResult } from './fan-out.api';

/**
 * Contract of the patch rollback workflow (R-PI-11): each dossier restored from its restore point (the
 * generation a patch run with restore points recorded before patching it), its data, treatments, dictionary,
 * patch ledger (APATCH) and level with it. The CLI, the maintenance window (`--on-failure rollback`) and the
 * tests import it; it imports nothing from Node.
 */

export const PATCH_ROLLBACK_KIND = 'patch-rollback';

export type RollbackTuning = RestoringRunTuning;
export const DEFAULT_ROLLBACK_TUNING: RollbackTuning = { chunkSize: 10, concurrency: 2, heartbeatTimeoutSeconds: 10, maxChunksPerRun: 400, detailsEverySeconds: 5 };

export interface PatchRollbackInput {
  target: string;
  /** these dossiers, each to its newest unused restore point */
  dossiers?: string[];
  /** the dossiers of this patch run that have a restore point */
  patchRun?: number;
  /** with patchRun: only its failed dossiers */
  failedOnly?: boolean;
  /** the failed dossiers of this rollback run, again */
  retryOf?: number;
  /** set when the rollback is a maintenance window's child: that window is the single-user mode (R-PI-2) */
  windowWorkflowId?: string;
  tuning?: Partial<RollbackTuning>;
  /** set by the workflow itself when it continues as new (never given by a caller) */
  state?: RollbackCarriedState;
}

export const ROLLBACK_PHASES = RESTORING_RUN_PHASES;
export type RollbackPhase = RestoringRunPhase;

export interface RollbackProgress extends ClaimedRunProgress<RollbackPhase> {
  /** what was asked, in words (`patch run 12, failed dossiers`, `DEMO0002 DEMO0003`) */
  scope: string;
}

export type RollbackCarriedState = RestoringRunCarriedState<RollbackProgress>;

export type RollbackRunState = 'completed' | 'partial' | 'failed';

export interface RollbackRunResult extends RollbackProgress {
  state: RollbackRunState;
  /** dossiers restored */
  restored: number;
  /** the first of them, by code */
  restoredCodes: string[];
  failures: DossierFailure[];
  failuresTotal: number;
  /** with failures: the command that rolls them back again */
  retryCommand?: string;
}

export const rollbackProgressQuery = defineQuery<RollbackProgress>('progress');

/** `patch-rollback/{target}/{timestamp}` (domain/workflow-id.ts). */
export const patchRollbackWorkflowId = (target: string, timestamp: string): string => `patch-rollback/${target}/${timestamp}`;

/** `nightshift patch rollback --retry N --target T`: the failed dossiers of a rollback run, again. */
export const rollbackRetryCommand = (target: string, runId: number): string => `nightshift patch rollback --target ${target} --retry ${runId}`;

/** The scope in words, for the details, the summary and the CLI. */
export function rollbackScopeText(i: Pick<PatchRollbackInput, 'dossiers' | 'patchRun' | 'failedOnly' | 'retryOf'>): string {
  if (i.retryOf !== undefined) return `the failed dossiers of rollback run ${i.retryOf}`;
  if (i.patchRun !== undefined) return `${i.failedOnly ? 'the failed dossiers' : 'the dossiers'} of patch run ${i.patchRun}`;
  const codes = i.dossiers ?? [];
  return codes.length <= 5 ? codes.join(' ') : `${codes.slice(0, 5).join(' ')} … (${codes.length} dossiers)`;
}

export const RollbackFailure = {
  InvalidInput: FailureType.InvalidInput,
  /** R-PI-2: outside a window, a batch or a patch run running, another rollback running */
  PrerequisiteFailed: FailureType.RollbackPrerequisiteFailed,
  /** a dossier (or the whole scope) has no restore point to go back to: nothing changed */
  NoRestorePoint: FailureType.NoRestorePoint,
  /** the run ended with dossiers not rolled back: its workflow fails with this type, the whole result in details[0] */
  RunPartial: FailureType.RollbackRunPartial,
  RunClosed: FailureType.RollbackRunClosed,
} as const;

/** The result of a rollback that ended with failed dossiers (RollbackRunPartial, also through a window's child failure); undefined otherwise. */
export const partialRollbackResult = (err: unknown): RollbackRunResult | undefined => failureResult<RollbackRunResult>(err, FailureType.RollbackRunPartial);
