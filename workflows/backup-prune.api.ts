import { defineQuery } from '@temporalio/workflow';
import type { GenerationKind } from '../domain/generation';
import type { RetentionPolicies } from '../domain/retention';
import type { DossierFailure } from '../domain/run-details';
import type { FanOutState } from './fan-out';
import { FailureType } from '../domain/failures';
import { type FanOutRunTuning, failureResult, runResult } from './fan-out.api';

/** Contract of the prune of generations by retention (R-BK-11). Imports nothing from Node. */

export const BACKUP_PRUNE_KIND = 'backup-prune';

export const PRUNE_TRIGGERS = ['manual', 'batch'] as const;
export type PruneTrigger = (typeof PRUNE_TRIGGERS)[number];

/** Dossiers per chunk, dossiers pruned at once inside one (workflows/fan-out.api.ts). */
export type BackupPruneTuning = FanOutRunTuning;

export const DEFAULT_BACKUP_PRUNE_TUNING: BackupPruneTuning = {
  chunkSize: 200,
  window: 2,
  concurrency: 4,
  chunkTimeBudgetMs: 10_000,
  maxChunksPerRun: 400,
  heartbeatTimeout: '10 seconds',
};

/** What the prune fixed at its start: one policy and one zone for the whole run. */
export interface PrunePlan {
  policies: RetentionPolicies;
  /** 'normal last=2,daily=7,weekly=4,monthly=3; ...' with each one's origin (local, common, default) */
  policyText: string;
  timeZone: string;
  /** dossiers with kept generations at the start */
  total: number;
}

/** What a chunk adds up (besides the engine's counts). */
export interface PruneCounts {
  /** generations this prune marked deleted (their files removed; a copy the storage kept is in offsiteLeft); a dry run: would mark */
  deleted: number;
  /** bytes of their files that were there (a file already gone frees nothing; a dry run: the sizes it would delete) */
  bytesFreed: number;
  /** generations the policy keeps */
  kept: number;
  /** generations the policy would delete but a lease keeps */
  leased: number;
  /**
   * of those, the ones a patch run's restore point lease keeps (R-PI-11: 30 days for a rollback), not a restore or a
   * verification reading them. Optional: absent from the counts of a prune started before they were told apart.
   */
  restorePoints?: number;
  /** off-site copies of the generations this prune marked, deleted */
  offsiteDeleted: number;
  /**
   * off-site copies of generations an earlier prune marked (the storage away then), deleted by this one: that prune's
   * work finished, not generations this one deleted. Optional: absent from the counts of a prune started before.
   */
  offsiteFinished?: number;
  /**
   * files left by interrupted backups removed (a dry run: found): named as generations, recorded nowhere, older than
   * their dossier's newest generation. Optional: absent from the counts of a prune started before they were counted.
   */
  unrecorded?: number;
  /** their bytes */
  unrecordedBytes?: number;
  /**
   * files of generations this prune marked deleted that it could not remove (the error is the dossier's failure): still
   * on disk, not counted in bytesFreed; the next prune removes them. Optional: absent from the counts of a prune started
   * before they were counted (a file not removed was then counted freed).
   */
  filesLeft?: number;
  /** their sizes as recorded */
  filesLeftBytes?: number;
}

export const ZERO_PRUNE_COUNTS: PruneCounts = { deleted: 0, bytesFreed: 0, kept: 0, leased: 0, restorePoints: 0, offsiteDeleted: 0, offsiteFinished: 0, unrecorded: 0, unrecordedBytes: 0, filesLeft: 0, filesLeftBytes: 0 };

/**
 * What holds the generations a lease keeps, after "kept N": drill S read "held by a restore or a verification" for 7,999
 * generations held by a window's restore points, with nothing running. Empty when none.
 */
export function heldText(leased: number, restorePoints = 0): string {
  if (!leased) return '';
  const readers = leased - restorePoints;
  if (!restorePoints) return ` (${leased} held by a restore or a verification reading them)`;
  const points = `patch restore points, kept for a rollback until their lease ends (R-PI-11; 'nightshift backup list CODE' says until when)`;
  return readers ? ` (${leased} held: ${restorePoints} as ${points}, ${readers} by a restore or a verification reading them)` : ` (${leased} held as ${points})`;
}

/** What a prune says of the files left by interrupted backups (R-BK-11). */
export const unrecordedText = (n: number, bytes: string, dryRun: boolean): string =>
  `${dryRun ? 'would delete' : 'deleted'} ${n} unrecorded file(s) left by interrupted backups (${bytes})`;

/** A prune that marked generations deleted and could not remove some of their files says so: not freed yet. */
export const filesLeftText = (n: number, bytes: string): string =>
  `${n} file(s) of the generation(s) deleted could not be removed (${bytes}, not counted freed; the reason is in the failures): the next prune removes them`;

/**
 * A generation the policy deletes that the prune kept because a check before deleting could not be made (R-BK-11): its
 * own (the off-site storage not answering, a key this worker lacks), or that of the kept generations it stands in for.
 */
export interface HeldBackGeneration {
  code: string;
  generationId: number;
  kind: GenerationKind;
  snapshotAt: string;
  /** snapshotAt in the prune's zone */
  date: string;
  why: string;
  /** kept in place of the newer kept ones of its kind, which this prune found not to read back (absent: a check not made) */
  replacesBad?: true;
}

/** The generations a prune held back (absent: none, and from the results of prunes before they were said). */
export interface PruneHeldBack {
  heldBack?: number;
  /** of those, the ones kept in place of newer ones found not to read back (replacesBad; absent: none) */
  replacingBad?: number;
  /** the first HELD_BACK_SHOWN of them */
  heldBackShown?: HeldBackGeneration[];
}

export const HELD_BACK_SHOWN = 20;

/** `a` and a chunk's `b` together (undefined while none was held back: a state carried as before). */
export function addHeldBack(a: PruneHeldBack | undefined, b: PruneHeldBack): PruneHeldBack | undefined {
  if (!b.heldBack) return a;
  const replacingBad = (a?.replacingBad ?? 0) + (b.replacingBad ?? 0);
  return {
    heldBack: (a?.heldBack ?? 0) + b.heldBack,
    heldBackShown: [...(a?.heldBackShown ?? []), ...(b.heldBackShown ?? [])].slice(0, HELD_BACK_SHOWN),
    ...(replacingBad && { replacingBad }),
  };
}

/**
 * What a prune says of the generations it held back: a line for those a check could not be made for, one for those kept
 * in place of newer ones found not to read back (drill R, session 39: the dry run said 2, the prune deleted 1, and only a
 * worker's log said why), then one per generation shown.
 */
export function heldBackText(n: number, shown: readonly HeldBackGeneration[] = [], replacingBad = 0): string[] {
  const unchecked = n - replacingBad;
  return [
    ...(unchecked > 0
      ? [`held back ${unchecked} generation(s) the retention policy deletes: a check before deleting could not be made (the off-site storage, a key); kept for now, the next prune checks them again`]
      : []),
    ...(replacingBad > 0
      ? [
          `kept ${replacingBad} generation(s) the retention policy deletes in place of newer ones of their kind that do not read back (found corrupt or missing by this prune, recorded: ` +
            `the next batch backs up a normal one again, an EchangePrest or Cloture one needs its own backup)`,
        ]
      : []),
    ...[...shown].sort((a, b) => (a.code === b.code ? a.generationId - b.generationId : a.code < b.code ? -1 : 1)).map((h) => `  ${h.code}: generation ${h.generationId} (${h.kind}) of ${h.date}: ${h.why}`),
    // "and N more" only under the generations listed (the headlines alone, for `backup info` and the Web UI, list none)
    ...(shown.length && n > shown.length ? [`  and ${n - shown.length} more`] : []),
  ];
}

/** What the prune's end reads from the rows (finishPrune): the ledger, whatever attempt removed the files. */
export interface PruneTruth extends Required<Pick<PruneCounts, 'deleted' | 'bytesFreed' | 'offsiteDeleted' | 'offsiteFinished'>> {
  /** the same as deleted (rows deleted_by this prune); kept for the scripts that read it */
  recordedDeleted: number;
  /** of those, the ones whose off-site copy is still in the bucket (the storage refused or was away): the next prune deletes them */
  offsiteLeft: number;
  /** the earlier prunes (workflow ids) whose generations' off-site copies this one finished deleting (offsiteFinished) */
  finishedFor: string[];
}

/** Carried across continue-as-new. */
export interface BackupPruneState {
  plan: PrunePlan;
  fanOut: FanOutState<string>;
  counts: PruneCounts;
  startedAtMs: number;
  heldBack?: PruneHeldBack;
}

export interface BackupPruneInput {
  target: string;
  /** count what would be deleted; change nothing */
  dryRun?: boolean;
  trigger?: PruneTrigger;
  /** the batch that started it (trigger 'batch') */
  batchWorkflowId?: string;
  tuning?: Partial<BackupPruneTuning>;
  state?: BackupPruneState;
}

export type BackupPrunePhase = 'planning' | 'pruning' | 'completed' | 'completed_with_errors';

/** recordedDeleted, offsiteLeft, finishedFor: absent from a dry run's result (and from a prune that ended before they were counted) */
export interface BackupPruneResult extends PruneCounts, PruneHeldBack, Partial<Pick<PruneTruth, 'recordedDeleted' | 'offsiteLeft' | 'finishedFor'>> {
  target: string;
  dryRun: boolean;
  state: 'completed' | 'completed_with_errors';
  /** dossiers with kept generations at the start, and how many were done */
  total: number;
  done: number;
  failed: number;
  failures: DossierFailure[];
  failuresTotal: number;
  policies: RetentionPolicies;
  timeZone: string;
}

/** A prune that ends with dossiers it could not prune FAILS its workflow (visible in the Web UI's list); details[0] is the result. */
export const BACKUP_PRUNE_PARTIAL = FailureType.BackupPrunePartial;

/** The result a BackupPrunePartial failure carries (also through a WorkflowFailedError), else undefined. */
export const partialPruneResult = (err: unknown): BackupPruneResult | undefined => failureResult<BackupPruneResult>(err, BACKUP_PRUNE_PARTIAL);

/** The prune's result whether it completed or ended with errors (any other failure is rethrown). */
export const pruneResult = (result: Promise<unknown>): Promise<BackupPruneResult> => runResult<BackupPruneResult>(result, BACKUP_PRUNE_PARTIAL);

export interface BackupPruneProgress extends PruneCounts {
  target: string;
  dryRun: boolean;
  phase: BackupPrunePhase;
  total: number;
  done: number;
  failed: number;
  failures: DossierFailure[];
}

export const backupPruneProgressQuery = defineQuery<BackupPruneProgress>('backupPruneProgress');

/** `backup-prune/{target}/{UTC timestamp}` (domain/workflow-id.ts). */
export const backupPruneWorkflowId = (target: string, timestamp: string): string => `backup-prune/${target}/${timestamp}`;
/** The prune a batch starts at its end: `backup/main/T` → `backup-prune/main/T` (the batch's own timestamp); another id gets `/prune`. */
export const batchPruneWorkflowId = (batchWorkflowId: string): string =>
  batchWorkflowId.startsWith('backup/') ? `backup-prune/${batchWorkflowId.slice('backup/'.length)}` : `${batchWorkflowId}/prune`;

/** One generation the prune deletes (or, dry run, would delete). */
export interface PrunedGeneration {
  id: number;
  code: string;
  kind: GenerationKind;
  snapshotAt: string;
  size: number;
  file: string;
}

/** A prune that deleted generations but could not delete their off-site copies (R-BK-14) says so. */
export const offsiteLeftText = (n: number): string =>
  `${n} of the generation(s) deleted still have their off-site copy (the storage refused or was away): the next prune deletes those copies`;

/** A prune that deleted the off-site copies earlier prunes left (the storage away then) says whose: not generations it deleted. */
export const offsiteFinishedText = (n: number, prunes: readonly string[] = []): string => {
  const shown = prunes.slice(0, 3).join(', ');
  const more = prunes.length > 3 ? ` and ${prunes.length - 3} more` : '';
  return `finished removing ${n} off-site copies of generations pruned earlier${shown ? ` (${shown}${more})` : ''}`;
};

export const pruneCommand = (target: string, dryRun = false): string => `nightshift backup prune --target ${target}${dryRun ? ' --dry-run' : ''}`;
