import { defineQuery } from '@temporalio/workflow';
import { type VerifyPart, type VerifyScope, type VerifyTrigger, verifyProblemCause } from '../domain/backup-verify';
import { FailureType } from '../domain/failures';
import type { DossierFailure, FanOutInFlight } from '../domain/run-details';
import { type FanOutRunTuning, type RunMailInput, failureResult, runResult } from './fan-out.api';

/** Contract of the verification of kept generations (R-BK-13). Imports nothing from Node. */

export const BACKUP_VERIFY_KIND = 'backup-verify';
export const BACKUP_VERIFY_MAIL_KIND = 'backup-verify-mail';

/** Generations per chunk, generations read at once inside one (workflows/fan-out.api.ts). */
export type BackupVerifyTuning = FanOutRunTuning;

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
  /** one part of every kept generation: `part` of `of`, or the next in turn (rotating) without `part` */
  subset?: { of: number; part?: number };
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
  /** the part of every kept generation it read (absent: its whole scope) */
  part?: VerifyPart;
  reportPath: string | null;
  /** the report is being mailed (only on a problem, and with report recipients) */
  mail: boolean;
  /** the newest problems (code: generation date, what is wrong) */
  failures: DossierFailure[];
  failuresTotal: number;
  /** what to run next on a problem: nextSteps' first command */
  nextCommand: string | null;
  /** on a problem, what to do and why, by what the problems say of the archives (absent from runs of older workers) */
  nextSteps?: VerifyNextStep[];
  /** why the run stopped before reading every generation (the backup folder unmounted); null or absent: it did not */
  stopReason?: string | null;
}

export interface VerifyNextStep {
  /** what to do, and why, in a sentence */
  text: string;
  command: string;
}

/** A verify run that found a problem FAILS its workflow (visible in the Web UI's list); details[0] is the result. */
export const BACKUP_VERIFY_PROBLEMS = FailureType.BackupVerifyProblems;

/** The result a BackupVerifyProblems failure carries (also through a WorkflowFailedError), else undefined. */
export const problemsVerifyResult = (err: unknown): BackupVerifyResult | undefined => failureResult<BackupVerifyResult>(err, BACKUP_VERIFY_PROBLEMS);

/** The verify run's result whether it found problems or not (any other failure is rethrown). */
export const verifyResult = (result: Promise<unknown>): Promise<BackupVerifyResult> => runResult<BackupVerifyResult>(result, BACKUP_VERIFY_PROBLEMS);

/** A next step names its dossiers up to this many; past it (or when the run's problems were not all read), every dossier. */
export const NEXT_STEP_CODES_MAX = 200;

/**
 * Next step on a problem: a fresh backup of the dossiers whose generation is bad. `codes` undefined: too many to
 * name (or not all known), so every dossier.
 */
export const verifyNextCommand = (target: string, codes: string[] | undefined): string =>
  codes ? `nightshift backup run --all --only ${codes.join(',')} --target ${target}` : `nightshift backup run --all --target ${target}`;

/** Next step once what kept a verification from judging the archives (a key, the off-site storage) is fixed; undefined codes: everything kept. */
export const verifyAgainCommand = (target: string, codes: string[] | undefined): string =>
  codes ? `nightshift backup verify --codes ${codes.join(',')} --target ${target}` : `nightshift backup verify --target ${target}`;

/** The same verification again (its scope, its part), once what stopped it is fixed. */
export function verifyRerunCommand(target: string, scope: VerifyScope): string {
  if (scope.kind === 'codes') return verifyAgainCommand(target, scope.codes);
  if (scope.kind === 'run') return `nightshift backup verify --run ${scope.runId} --target ${target}`;
  return scope.part ? `nightshift backup verify --subset ${scope.part.part}/${scope.part.of} --target ${target}` : verifyAgainCommand(target, undefined);
}

/** The first step of a run that stopped before reading every generation (R-BK-13: reported as a failed batch is). */
export const verifyStoppedStep = (target: string, scope: VerifyScope): VerifyNextStep => ({
  text: 'the verification stopped before reading every generation (see why above): once that is fixed (the backup folder mounted again), verify them again',
  command: verifyRerunCommand(target, scope),
});

/**
 * The next steps of a run's problems (domain/backup-verify.ts verifyProblemCause). A new backup only of the dossiers
 * whose archive is at fault (the caller passes, of the archives at fault, only their newest: an older one is a point in
 * time no backup brings back): one whose only problems are a key the worker lacks, or an off-site storage that refused
 * or did not answer, keeps its archive (a backup there would let retention prune an intact one); for those, the key
 * to give (`keyIds`: the ids its generations were written with) or the storage to mend, then a verification again. A
 * dossier with a copy not checked is in the verification again even when it is backed up too.
 */
export function verifyNextSteps(
  target: string,
  problems: { code: string; status: string; error: string | null }[],
  keysOf: { code: string; keyId: string }[],
  /** false: `problems` is not every problem of the run (too many to read): the commands name no dossier */
  complete = true,
): VerifyNextStep[] {
  const causes = new Map<string, Set<string>>();
  for (const p of problems) {
    const of = causes.get(p.code) ?? new Set<string>();
    of.add(verifyProblemCause(p));
    causes.set(p.code, of);
  }
  const codes = (test: (c: Set<string>) => boolean) => [...causes].filter(([, c]) => test(c)).map(([code]) => code).sort();
  // a command that named only the dossiers read, or hundreds, would leave the others unchecked, or not fit a line
  const named = (list: string[]) => (complete && list.length <= NEXT_STEP_CODES_MAX ? list : undefined);
  const archive = codes((c) => c.has('archive'));
  const offsiteOnly = codes((c) => !c.has('archive') && c.has('offsite-only'));
  const key = codes((c) => !c.has('archive') && !c.has('offsite-only') && c.has('key'));
  // a copy not checked (the storage away) is verified again whatever else the dossier has: a backup mends its newest
  // archive, not the check of another generation's copy (tester, 2026-12-08: such dossiers were left out of the list)
  const unchecked = codes((c) => !c.has('key') && c.has('offsite-unchecked'));
  const storage = codes((c) => c.has('storage') && !c.has('key') && !c.has('offsite-unchecked'));
  const recopy = codes((c) => c.has('offsite-copy') && !c.has('archive') && !c.has('offsite-only'));
  const steps: VerifyNextStep[] = [];
  // a step for the dossiers of one cause, when there are any: a new backup (the batch's command), or a verification again
  const step = (list: string[], text: string, command: (codes: string[] | undefined) => string) => {
    if (list.length) steps.push({ text, command: command(named(list)) });
  };
  const backUp = (codes: string[] | undefined) => verifyNextCommand(target, codes);
  const verifyAgain = (codes: string[] | undefined) => verifyAgainCommand(target, codes);
  step(archive, 'back up these dossiers again', backUp);
  step(
    recopy,
    'the local archives read back whole, but their off-site copies are gone or differ from what was written: recorded to copy again, ' +
      'the next batch copies them first (no new backup is taken for that); the command does it now',
    backUp,
  );
  step(
    offsiteOnly,
    "the local files are gone but their off-site copies read back whole: 'nightshift backup restore CODE --at DATE' reads them; " +
      'a new backup puts a local archive back: the next nightly batch takes those whose newest archive was lost, the command does it now ' +
      '(the next verification counts them ok while their copies read back, noting the file missing)',
    backUp,
  );
  const ids = [...new Set(keysOf.filter((k) => key.includes(k.code)).map((k) => k.keyId))].sort();
  const keys = ids.length ? `backup key${ids.length > 1 ? 's' : ''} ${ids.join(', ')}` : 'backup key named in each reason above';
  step(
    key,
    `the archives are not at fault: the worker lacks the ${keys} they were encrypted with (or holds another under that id); give the workers the original key in NIGHTSHIFT_BACKUP_KEYS_FILE (or NIGHTSHIFT_BACKUP_KEYS), then verify again. ` +
      `If that key is lost for good, those generations can never be read: restore a newer one ('nightshift backup list CODE' says each one's key); the nightly batch backs up again, under the current key, each dossier whose newest archive uses a key its worker does not give; retention prunes the unreadable ones in time`,
    verifyAgain,
  );
  step(
    unchecked,
    'the local files are gone or damaged and their off-site copies could not be checked (the storage refused or did not answer, or this worker has none): ' +
      'once it answers (NIGHTSHIFT_OFFSITE_S3_*), verify again; a new backup now is not needed to keep them, and could let retention prune an intact copy',
    verifyAgain,
  );
  step(
    storage,
    'the local archives read back whole, but the off-site storage refused or did not answer while their copies were checked: once it answers (NIGHTSHIFT_OFFSITE_S3_*), verify again',
    verifyAgain,
  );
  return steps;
}

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
/**
 * The verification a batch starts of what it wrote (R-BK-13), named after the batch's workflow id
 * (`backup/main/20261202T232929Z` -> `backup-verify/main/20261202T232929Z/after-batch`): one per batch, never the id
 * of a verify started by hand (those end with their timestamp), nor of another deployment's batch on a shared server.
 */
export const batchVerifyWorkflowId = (batchWorkflowId: string): string =>
  batchWorkflowId.startsWith('backup/') ? `backup-verify/${batchWorkflowId.slice('backup/'.length)}/after-batch` : `${batchWorkflowId}/verify`;
/** Scheduled runs: the server appends the scheduled time. */
export const scheduledVerifyWorkflowId = (target: string): string => `backup-verify/${target}/scheduled`;
export const verifyScheduleId = (target: string): string => `backup-verify-schedule/${target}`;
export const verifyMailWorkflowId = (verifyWorkflowId: string): string => `${verifyWorkflowId}/mail`;

export type VerifyMailInput = RunMailInput;
