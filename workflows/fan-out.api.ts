import { ApplicationFailure } from '@temporalio/workflow';
import type { FanOutState } from './fan-out';

/**
 * Contract shapes every fan-out workflow shares (backup batch, verification, prune, patch integration,
 * rollback): the tuning of a run, the report mail's input and answer, the result a run's failure carries.
 * Imports nothing from Node.
 */

/** How a run cuts its work; defaults (each workflow's) suit 2 cores. Tests and benchmarks change them. */
export interface FanOutRunTuning {
  /** dossiers (or generations) per chunk activity */
  chunkSize: number;
  /** chunk activities in flight at once */
  window: number;
  /** dossiers done at once inside one chunk */
  concurrency: number;
  /** a chunk stops taking new dossiers after this long and hands the rest back, so progress shows every few seconds */
  chunkTimeBudgetMs: number;
  /** chunks per workflow run before continue-as-new (each chunk costs about 10 history events) */
  maxChunksPerRun: number;
  /** a worker that dies is noticed after this long, and its chunk resumes elsewhere */
  heartbeatTimeout: string;
}

/** The report mail of a run: its own workflow, started by the run and abandoned by it. */
export interface RunMailInput {
  target: string;
  runId: number;
}

export interface RunMailResult {
  sent: boolean;
  error?: string;
}

/**
 * The result a run's failure of this `type` carries in details[0] (a run that left dossiers undone fails its
 * workflow with its whole result), also through a child workflow's or a WorkflowFailedError's causes; else undefined.
 */
export function failureResult<T>(err: unknown, type: string): T | undefined {
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    if (e instanceof ApplicationFailure && e.type === type) return e.details?.[0] as T | undefined;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A run's result whether it completed or failed with its result (`type`); any other failure is rethrown. */
export async function runResult<T>(result: Promise<unknown>, type: string): Promise<T> {
  try {
    return (await result) as T;
  } catch (err) {
    const carried = failureResult<T>(err, type);
    if (carried) return carried;
    throw err;
  }
}

/** One prerequisite of a claim (R-PI-2), as the claim checked it. */
export interface Prerequisite {
  name: string;
  ok: boolean;
  detail: string;
}

/** What a claimed run (patch integration, rollback) shows and carries: its progress query's common part. */
export interface ClaimedRunProgress<Phase extends string = string> {
  runId: number | null;
  workflowId: string;
  target: string;
  phase: Phase;
  prerequisites: Prerequisite[];
  notes: string[];
  total: number;
  done: number;
  failed: number;
}

/** The phases of a restoring run (patch rollback, bulk restore: workflows/restoring-run.ts). */
export const RESTORING_RUN_PHASES = ['starting', 'prerequisites', 'selecting', 'dossiers', 'finishing', 'completed', 'partial', 'failed'] as const;
export type RestoringRunPhase = (typeof RESTORING_RUN_PHASES)[number];

/** A restoring run's tuning: a restore is a whole dossier, so small chunks (a dead worker's chunk goes elsewhere soon). */
export interface RestoringRunTuning {
  /** dossiers per chunk activity */
  chunkSize: number;
  /** chunks in flight at once (each restores its dossiers one after another) */
  concurrency: number;
  heartbeatTimeoutSeconds: number;
  maxChunksPerRun: number;
  detailsEverySeconds: number;
}

/** What a restoring run carries into its next workflow run (continue-as-new). */
export interface RestoringRunCarriedState<P> {
  progress: P;
  runId: number;
  fanOut: FanOutState<string>;
  startedAtMs: number;
  searchAttributes: boolean;
  generation: number;
}
