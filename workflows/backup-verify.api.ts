import { ApplicationFailure, defineQuery } from '@temporalio/workflow';
import type { VerifyScope, VerifyTrigger } from '../domain/backup-verify';
import { FailureType } from '../domain/failures';
import type { DossierFailure, FanOutInFlight } from '../domain/run-details';

/** Contract of the verification of kept generations (R-BK-13). Imports nothing from Node. */

export const BACKUP_VERIFY_KIND = 'backup-verify';
export const BACKUP_VERIFY_MAIL_KIND = 'backup-verify-mail';

export interface BackupVerifyTuning {
  /** generations per chunk activity */
  chunkSize: number;
  /** chunk activities in flight at once */
  window: number;
  /** generations read at once inside one chunk */
  concurrency: number;
  /** a chunk stops taking new generations after this long and hands the rest back */
  chunkTimeBudgetMs: number;
  /** chunks per workflow run before continue-as-new */
  maxChunksPerRun: number;
  heartbeatTimeout: string;
}

export const DEFAULT_BACKUP_VERIFY_TUNING: BackupVerifyTuning = {
  chunkSize: 50,
  window: 2,
  concurrency: 2,
  chunkTimeBudgetMs: 5_000,
  maxChunksPerRun: 400,
  heartbeatTimeout: '30 seconds',
};

/** Fixed when the run is claimed: which generations are restored into a scratch schema. */
export interface VerifySampleSettings {
  full: boolean;
  samplePercent: number;
  seed: number;
  /** restored whatever the draw says: every run restores at least one generation */
  anchor: number | null;
}

export interface BackupVerifyTotals {
  selected: number;
  done: number;
  ok: number;
  problems: number;
}

/** Carried across continue-as-new: every generation up to the cursor (an id) was launched. */
export interface BackupVerifyState {
  runId: number;
  scope: VerifyScope;
  sample: VerifySampleSettings;
  cursor: number;
  exhausted: boolean;
  pending: string[][];
  chunkSeq: number;
  totals: BackupVerifyTotals;
  startedAtMs: number;
  failures: DossierFailure[];
  failuresTotal: number;
}

export interface BackupVerifyInput {
  target: string;
  full?: boolean;
  codes?: string[];
  /** the generations this backup batch run wrote */
  backupRunId?: number;
  samplePercent?: number;
  seed?: number;
  trigger?: VerifyTrigger;
  tuning?: Partial<BackupVerifyTuning>;
  /** set by continue-as-new only */
  state?: BackupVerifyState;
}

export type VerifyRunState = 'running' | 'completed' | 'problems' | 'failed';

export interface BackupVerifyResult {
  target: string;
  runId: number;
  state: Exclude<VerifyRunState, 'running'>;
  total: number;
  ok: number;
  problems: number;
  /** generations restored into a scratch schema and compared */
  restored: number;
  seed: number;
  reportPath: string | null;
  /** the report is being mailed (only on a problem, and with report recipients) */
  mail: boolean;
  /** the newest problems (code: generation date, what is wrong) */
  failures: DossierFailure[];
  failuresTotal: number;
  /** what to run next on a problem: back up the dossiers concerned again */
  nextCommand: string | null;
}

/** A verify run that found a problem FAILS its workflow (visible in the Web UI's list); details[0] is the result. */
export const BACKUP_VERIFY_PROBLEMS = FailureType.BackupVerifyProblems;

/** The result a BackupVerifyProblems failure carries (also through a WorkflowFailedError), else undefined. */
export function problemsVerifyResult(err: unknown): BackupVerifyResult | undefined {
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    if (e instanceof ApplicationFailure && e.type === BACKUP_VERIFY_PROBLEMS) return e.details?.[0] as BackupVerifyResult | undefined;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The verify run's result whether it found problems or not (any other failure is rethrown). */
export async function verifyResult(result: Promise<unknown>): Promise<BackupVerifyResult> {
  try {
    return (await result) as BackupVerifyResult;
  } catch (err) {
    const r = problemsVerifyResult(err);
    if (r) return r;
    throw err;
  }
}

/** Next step on a problem: a fresh backup of the dossiers whose generation is bad. */
export const verifyNextCommand = (target: string, codes: string[]): string => `nightshift backup run --all --only ${codes.join(',')} --target ${target}`;

export const BACKUP_VERIFY_PHASES = ['claiming', 'running', 'reporting', 'completed', 'problems', 'failed'] as const;
export type BackupVerifyPhase = (typeof BACKUP_VERIFY_PHASES)[number];

export interface BackupVerifyProgress {
  target: string;
  runId: number | null;
  phase: BackupVerifyPhase;
  selected: number;
  done: number;
  ok: number;
  problems: number;
  reportPath: string | null;
  inFlight: FanOutInFlight[];
  failures: DossierFailure[];
}

export const backupVerifyProgressQuery = defineQuery<BackupVerifyProgress>('progress');

/** `backup-verify/{target}/{UTC timestamp}` */
export const backupVerifyWorkflowId = (target: string, timestamp: string): string => `backup-verify/${target}/${timestamp}`;
/** Scheduled runs: the server appends the scheduled time. */
export const scheduledVerifyWorkflowId = (target: string): string => `backup-verify/${target}/scheduled`;
export const verifyScheduleId = (target: string): string => `backup-verify-schedule/${target}`;
export const verifyMailWorkflowId = (verifyWorkflowId: string): string => `${verifyWorkflowId}/mail`;

export interface VerifyMailInput {
  target: string;
  runId: number;
}
