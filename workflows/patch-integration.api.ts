import { defineQuery } from '@temporalio/workflow';
import { FailureType } from '../domain/failures';
import type { MaxFailures } from '../domain/patch-input';
import type { DossierFailure, FanOutChunkResult, RestorePointTally } from '../domain/run-details';
import type { FanOutState } from './fan-out';
import { type ClaimedRunProgress, type Prerequisite, failureResult } from './fan-out.api';

export type { Prerequisite };

/**
 * Contract of the patch integration workflow (R-PI-1 … R-PI-9). The CLI, the maintenance window
 * (payload `patch`) and the tests import it; it imports nothing from Node.
 */

export const PATCH_KIND = 'patch';
/** integrate: a patch directory; revalidate: bring dossiers up to the supervisor (R-PI-9); retry: the failed dossiers of a run. */
export type PatchRunMode = 'integrate' | 'revalidate' | 'retry';

export interface PatchTuning {
  /** dossiers per chunk activity, read as one page of the selection */
  chunkSize: number;
  /** chunks in flight at once (each patches its dossiers one after another) */
  concurrency: number;
  heartbeatTimeoutSeconds: number;
  /** chunks per workflow run before continue-as-new (a history budget applies too: workflows/fan-out.ts) */
  maxChunksPerRun: number;
  /** seconds between two reads of the run's ledger for the current details while chunks run; 0: none */
  detailsEverySeconds: number;
}
/**
 * Sized for 2 cores: a PostgreSQL backend and the worker share them. heartbeatTimeoutSeconds: a dead
 * worker's chunk goes elsewhere ~10 s after the kill (a chunk heartbeats every 2 s from a timer, also
 * while one dossier takes minutes). 400 chunks of 25: 10,000 dossiers per workflow run, ~3,000 events.
 */
export const DEFAULT_PATCH_TUNING: PatchTuning = { chunkSize: 25, concurrency: 2, heartbeatTimeoutSeconds: 10, maxChunksPerRun: 400, detailsEverySeconds: 5 };

export interface PatchIntegrationInput {
  target: string;
  mode: PatchRunMode;
  /** integrate: the directory holding the patch packages (on the worker's machine) */
  dir?: string;
  /** integrate: only these dossiers (default all); revalidate: the dossiers to bring up (default: every one below the supervisor) */
  dossiers?: string[];
  /** retry: the run whose failed dossiers go again (default: the last run that had failures) */
  retryOf?: number;
  /** set when the run is a maintenance window's payload: that window is the single-user mode (R-PI-2) */
  windowWorkflowId?: string;
  /** R-PI-11: take a restore point of each dossier just before patching it (window payload backup+patch); default false */
  restorePoints?: boolean;
  /** stop starting dossiers once more than this many (or this share of the others) have failed (AWS SSM's MaxErrors) */
  maxFailures?: MaxFailures;
  tuning?: Partial<PatchTuning>;
  /** set by the workflow itself when it continues as new: where the run is (never given by a caller) */
  state?: PatchCarriedState;
}

/** Which dossiers a run takes besides the supervisor (store/patch/selection-sql.ts). */
export type PatchSelection = 'all' | 'list' | 'below' | 'failed' | 'stopped';

/** What a patch run carries across continue-as-new: the supervisor is done, the others go on from the cursor. */
export interface PatchCarriedState {
  progress: PatchProgress;
  runId: number;
  upTo: number;
  supervisorLevel: number;
  selection: PatchSelection;
  /** the cursor is the last code paged */
  fanOut: FanOutState<string>;
  /** workflow time when the other dossiers started (the rate) */
  othersStartedAtMs: number;
  /** done when the other dossiers started (the supervisor) */
  doneBefore: number;
  searchAttributes: boolean;
  generation: number;
  /** maxFailures over the others, as a number of failed dossiers (more stops the run); absent: none */
  failureLimit?: number;
}

export type DossierPatchStatus = 'ok' | 'failed';

export interface DossierPatchOutcome {
  code: string;
  status: DossierPatchStatus;
  fromLevel: number;
  toLevel: number;
  /** patch numbers applied in this run */
  applied: number[];
  /** the patch that failed (the dossier stays at toLevel, its last good patch) */
  failedPatch?: number;
  failureType?: string;
  error?: string;
  /** what the dossier kept of its own and why (rule ids), e.g. a specific treatment under R-PI-5 */
  notes?: string[];
}

export interface PatchSummary {
  number: number;
  type: string;
  checksum: string;
  description: string;
  treatments: number;
}

/** R-PI-10: the run's plan as its details show it (domain/patch-plan.ts summaryLines), made before any dossier is touched. */
export interface PatchPlanView {
  lines: string[];
  dossiers: number;
  /** dossiers the plan says the run will fail (R-PI-8) */
  refused: number;
  estimateSeconds: number | null;
  /** the supervisor would fail: the run ends before any other dossier */
  stopsAtSupervisor: boolean;
}

export type PatchRunState = 'running' | 'completed' | 'partial' | 'failed';

export interface PatchProgress extends ClaimedRunProgress<PatchPhase> {
  mode: PatchRunMode;
  patches: { first: number; last: number } | null;
  supervisor: { code: string; status: 'pending' | DossierPatchStatus | 'not-in-list'; level: number | null; error?: string } | null;
  /** R-PI-10: the plan the run follows, made before any dossier (absent in runs recorded before it) */
  plan?: PatchPlanView;
  /** the run stopped starting dossiers: more than `maxFailures` (at most `limit`) failed; `notStarted` left at their level */
  stopped?: { failed: number; limit: number; maxFailures: string; notStarted: number };
}

/** A failed dossier of a patch run: the ledger's status, the patch that failed, one line of why. */
export interface PatchDossierFailure extends DossierFailure {
  patch?: number;
}

export interface PatchRunResult extends PatchProgress {
  state: PatchRunState;
  /** R-PI-9: dossiers below the supervisor's level after the run (first 200) and how many in all */
  toRevalidate: { code: string; level: number }[];
  toRevalidateCount: number;
  supervisorLevel: number | null;
  /** failed dossiers, the first FAILURES_CAP by code (domain/run-details.ts); failuresTotal counts them all */
  failures: PatchDossierFailure[];
  failuresTotal: number;
  /** the command that patches the failed dossiers again (with failures only) */
  retryCommand?: string;
  /** with failures: whether some dossier holds the lowest patch that failed (else the package is at fault; older runs: absent) */
  packageHeld?: boolean;
  /** R-PI-11: with restore points, how many the run took, reused and could not take */
  restorePoints?: RestorePointTally;
}

/** What one chunk of patch integration returns: counts and capped failures, never every code (activities/fan-out.ts). */
export interface PatchChunkResult extends FanOutChunkResult {
  /** with failures: the command that patches them again once the run has ended */
  retryCommand?: string;
}

/** `nightshift patch retry --target T --run N`: the next step after failed dossiers, copyable as is. */
export const patchRetryCommand = (target: string, runId: number): string => `nightshift patch retry --target ${target} --run ${runId}`;
/**
 * The result of a run that ended with failed dossiers, from the failure its workflow ended with
 * (PatchRunPartial, the result in details[0]; also through a window's child failure); undefined otherwise.
 */
export const partialPatchResult = (err: unknown): PatchRunResult | undefined => failureResult<PatchRunResult>(err, FailureType.PatchRunPartial);

/** What a run stopped at its supervisor says in its failure's details (PatchSupervisorFailed). */
export interface SupervisorFailure {
  runId: number;
  code: string;
  error: string;
  /** the other dossiers the run would have taken, none started (absent in failures recorded before it was said) */
  notStarted?: number;
}
/** The supervisor's failure of a run, also through a child workflow's causes; undefined for any other failure (or one recorded without details). */
export const supervisorFailureOf = (err: unknown): SupervisorFailure | undefined => failureResult<SupervisorFailure>(err, FailureType.PatchSupervisorFailed);

/** `nightshift patch revalidate --target T`: the next step when dossiers are below the supervisor (R-PI-9). */
export const patchRevalidateCommand = (target: string): string => `nightshift patch revalidate --target ${target}`;

export const PATCH_PHASES = ['starting', 'prerequisites', 'reading', 'supervisor', 'dossiers', 'finishing', 'completed', 'partial', 'failed'] as const;
export type PatchPhase = (typeof PATCH_PHASES)[number];

export const patchProgressQuery = defineQuery<PatchProgress>('progress');

/** `patch/{target}/{timestamp}` with a compact UTC timestamp (domain/patch.ts runTimestamp). */
export const patchWorkflowId = (target: string, timestamp: string): string => `patch/${target}/${timestamp}`;

/** Failure types of patch integration (asserted by the tests, named in the CLI's messages). */
export const PatchFailure = {
  PackageInvalid: FailureType.PatchPackageInvalid,
  StrayFiles: FailureType.PatchStrayFiles,
  Numbering: FailureType.PatchNumbering,
  ChecksumMismatch: FailureType.PatchChecksumMismatch,
  ChecksumDrift: FailureType.ChecksumDrift,
  /** a dossier would skip a patch number */
  Gap: FailureType.PatchGap,
  SqlFailed: FailureType.PatchSqlFailed,
  PrerequisiteFailed: FailureType.PatchPrerequisiteFailed,
  SupervisorFailed: FailureType.PatchSupervisorFailed,
  NothingToDo: FailureType.PatchNothingToDo,
  /** R-PI-4: a retry whose dossiers would end above the supervisor (rolled back since): refused before any dossier */
  SupervisorBehind: FailureType.PatchSupervisorBehind,
  UnknownDossier: FailureType.UnknownDossier,
  InvalidInput: FailureType.InvalidInput,
  /** the run was closed (abandoned) while its workflow still worked: its late results are refused */
  RunClosed: FailureType.PatchRunClosed,
  /** the run ended with failed dossiers: the workflow fails with this type, the whole PatchRunResult in details[0] */
  RunPartial: FailureType.PatchRunPartial,
} as const;
export type PatchFailureType = (typeof PatchFailure)[keyof typeof PatchFailure];
