import { defineQuery } from '@temporalio/workflow';
import { FailureType } from '../domain/failures';

/**
 * Contract of the patch integration workflow (R-PI-1 … R-PI-9). The CLI, the maintenance window
 * (payload `patch`) and the tests import it; it imports nothing from Node.
 */

export const PATCH_KIND = 'patch';
export const PATCH_WORKFLOW_TYPE = 'patchIntegrationWorkflow';

/** integrate: a patch directory; revalidate: bring dossiers up to the supervisor (R-PI-9); retry: the failed dossiers of a run. */
export type PatchRunMode = 'integrate' | 'revalidate' | 'retry';

export interface PatchTuning {
  /** dossiers per activity (one heartbeat per dossier) */
  chunkSize: number;
  /** chunks in flight at once */
  concurrency: number;
  heartbeatTimeoutSeconds: number;
}
/** Sized for 2 cores: a PostgreSQL backend and the worker share them. */
/** heartbeatTimeoutSeconds: a dead worker's chunk goes elsewhere ~10 s after the kill (the chunk heartbeats every 2 s from a timer). */
export const DEFAULT_PATCH_TUNING: PatchTuning = { chunkSize: 25, concurrency: 2, heartbeatTimeoutSeconds: 10 };

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
  tuning?: Partial<PatchTuning>;
}

export interface Prerequisite {
  name: string;
  ok: boolean;
  detail: string;
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

export type PatchRunState = 'running' | 'completed' | 'partial' | 'failed';

export interface PatchProgress {
  runId: number | null;
  workflowId: string;
  target: string;
  mode: PatchRunMode;
  phase: PatchPhase;
  prerequisites: Prerequisite[];
  patches: { first: number; last: number } | null;
  supervisor: { code: string; status: 'pending' | DossierPatchStatus | 'not-in-list'; level: number | null; error?: string } | null;
  notes: string[];
  total: number;
  done: number;
  failed: number;
}

export interface PatchRunResult extends PatchProgress {
  state: PatchRunState;
  /** R-PI-9: dossiers below the supervisor's level after the run (first 200) and how many in all */
  toRevalidate: { code: string; level: number }[];
  toRevalidateCount: number;
  supervisorLevel: number | null;
  /** failed dossiers (first 100) */
  failures: { code: string; patch?: number; error: string }[];
}

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
  UnknownDossier: FailureType.UnknownDossier,
  InvalidInput: FailureType.InvalidInput,
  /** the run was closed (abandoned) while its workflow still worked: its late results are refused */
  RunClosed: FailureType.PatchRunClosed,
} as const;
export type PatchFailureType = (typeof PatchFailure)[keyof typeof PatchFailure];
