import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { UsageError } from '../../config/config';
import { oneLine } from '../../domain/run-details';
import { dossierCodeSchema } from '../../domain/dossier';
import { onlyCodesSchema } from '../../domain/backup-batch';
import { MAX_FAILURES_FLAG, type MaxFailures } from '../../domain/patch-input';
import {
  MAX_PATCH_NUMBER,
  PATCH_TYPES,
  patchDescriptionSchema,
  patchIntegrateCommand,
  patchNumberArgSchema,
  patchRunStatusCommand,
  patchSpanText,
  retryAboveSupervisorProblem,
  faultAdvice,
  type PatchType,
} from '../../domain/patch';
import { patchPrerequisites } from '../../store/patch/prerequisites';
import { revalidationList } from '../../store/patch/revalidation-list';
import { patchFailure, sealPatchPackage } from '../../patches/package';
import { generateDemoPatches, writePatchTemplate } from '../../patches/demo';
import {
  PatchFailure,
  partialPatchResult,
  patchProgressQuery,
  supervisorFailureOf,
  patchRetryCommand,
  type PatchIntegrationInput,
  type PatchProgress,
  type PatchRunResult,
  type Prerequisite,
} from '../../workflows/patch-integration.api';
import { startPatchRun } from '../../starts';
import { innermostMessage } from '../../domain/failures';
import { action, config, EXIT_FAILED, SaidError, followProgress, jsonOption, lastingResult, output, parseFlag, sayOnInterrupt, target, targetOption, wholeNumberSchema, withPools, withTemporal, wordFlag } from '../context';
import { webUiLink } from './backup';
import { mayStillRun, workflowStatus } from './backup-batch';
import { closeAbandonedRun } from '../../store/patch/close-abandoned-run';
import { listDossierLevels } from '../../store/patch/dossier-levels';
import { listRecentRuns, type RecentRun } from '../../store/patch/recent-runs';
import { runFailures } from '../../store/patch/run-failures';
import { supervisorRow } from '../../store/patch/supervisor-row';
import { readRunPrerequisites } from '../../store/patch/run-prerequisites';
import { listRunningRuns } from '../../store/patch/running-runs';
import { runningRollbackRuns } from '../../store/rollback/running-runs';
import { registerPatchPlanCommand } from './patch-plan';
import { registerPatchRepairCommand, unfinishedRepairLine } from './patch-repair';
import { unfinishedRepairs } from '../../store/patch/unfinished-repairs';
import { registerPatchHistoryCommand } from './patch-history';
import { refuseUnknownCodes } from '../code-hints';
import { belowSupervisorCount, checkPatchDirHere, folderArgument, refuseWhatThePlanRefuses, writableFolderArgument } from '../patch-dir';
import { retryPreview } from '../../store/patch/retry-source';
import { retryScope, type RetryLeftOut } from '../../store/patch/retry-left-out';
import { stoppedAtSupervisor } from '../../store/patch/stopped-at-supervisor';
import { closeAbandonedRollbacks, registerPatchRollbackCommand, rollbackResultText, rollbackRunStatus, runIdSchema } from './patch-rollback';
import { operatorDateTime } from '../../domain/retention';

const MAX_DEMO_PATCHES = 10_000;
/** `patch retry`: the failed dossiers it leaves out named in text up to this many (as `backup retry`); --json gives the first 1000. */
const LEFT_OUT_SHOWN = 20;

/** Why `patch retry` leaves a failed dossier of a run out: brought up to its last patch since (by which run, when one did), or deleted. */
export function leftOutReason(d: RetryLeftOut, lastPatch: number, target: string): string {
  if (d.level === null) return `no longer a dossier of target ${target}`;
  return `brought up since${d.byRun !== null ? ` by patch run ${d.byRun}` : ''}: at level ${d.level}, the run's last patch ${lastPatch}`;
}

/** nightshift patch integrate|plan|status|revalidate|retry|new|seal|demo (R-PI-1 … R-PI-10; plan in ./patch-plan.ts). */

const codesSchema = z.array(dossierCodeSchema).min(1, 'give at least one dossier code');

interface StartFlags {
  target?: string;
  dossiers?: string;
  run?: string;
  maxFailures?: string;
  wait?: boolean;
  json?: boolean;
}

const MAX_FAILURES_HELP = 'stop starting dossiers once more than this many have failed, or this share of them (10, 5%); those started finish (as AWS SSM MaxErrors)';

/** " and 12 more" after a capped list (the JSON gives the total beside it). */
const moreText = (total: number, shown: number): string => (total > shown ? ` and ${total - shown} more` : '');

/** One line of a run's progress for --wait. */
export function progressText(p: PatchProgress): string {
  return `patch run ${p.runId ?? '?'}: ${p.done} / ${p.total} dossier(s), ${p.failed} failed${p.supervisor ? `, supervisor ${p.supervisor.code} ${supervisorStatusText(p.supervisor.status)}` : ''} (${p.phase})`;
}

/** Above this many dossiers, `patch status` counts them per level (--dossiers: one line each). */
const DOSSIER_LINES_MAX = 50;

/** Dossiers counted per patch level, highest first, a few codes of the smaller groups named (at 100,000 dossiers, a screen). */
export function levelSummary(dossiers: { code: string; level: number }[]): string[] {
  const byLevel = new Map<number, string[]>();
  for (const d of dossiers) {
    const codes = byLevel.get(d.level);
    if (codes) codes.push(d.code);
    else byLevel.set(d.level, [d.code]);
  }
  const lines = [...byLevel.entries()]
    .sort(([a], [b]) => b - a)
    .map(([level, codes]) => `  level ${String(level).padStart(5)}: ${codes.length} dossier(s)${codes.length <= 5 ? ` (${codes.join(', ')})` : ''}`);
  return [...lines, `  (${dossiers.length} dossiers: one line each with --dossiers, or --json)`];
}

/** The supervisor's part in a run, in words ('not-in-list': the run's dossiers (--dossiers, a retry's) leave it out). */
function supervisorStatusText(status: string): string {
  return status === 'not-in-list' ? "not among this run's dossiers" : status;
}

/** What --wait knows of its run beside the result: the advice `patch status --run N` gives, and the run's failed dossiers. */
export interface RunOutcome extends RunAdvice {
  packageHeld: boolean;
  /** the supervisor holds the patch that failed (its fix goes through `patch repair`) */
  supervisorHolds?: boolean;
  /** every failed dossier of the run (they need a fix and a retry, not a revalidation) */
  failedCodes: ReadonlySet<string>;
  /** of them, how many are below the supervisor's level (R-PI-9 counts them too) */
  failedBelowSupervisor: number;
}

/** R-PI-9 after a run: the dossiers to revalidate other than the run's own failed ones. */
export function othersToRevalidate(
  r: Pick<PatchRunResult, 'toRevalidate' | 'toRevalidateCount'>,
  failedCodes: ReadonlySet<string>,
  failedBelowSupervisor: number,
): { list: { code: string; level: number }[]; count: number } {
  return { list: r.toRevalidate.filter((d) => !failedCodes.has(d.code)), count: Math.max(0, r.toRevalidateCount - failedBelowSupervisor) };
}

export function resultText(r: PatchRunResult, outcome?: RunOutcome): string {
  const lines = [`patch ${r.mode} on ${r.target} (run ${r.runId}): ${r.state}`];
  for (const q of r.prerequisites) lines.push(`  ${q.ok ? 'ok  ' : 'FAIL'} ${q.name}: ${q.detail}`);
  if (r.patches) lines.push(patchSpanText(r.patches));
  for (const l of r.plan?.lines ?? []) lines.push(`plan (R-PI-10): ${l}`);
  if (r.supervisor) lines.push(`supervisor ${r.supervisor.code}: ${supervisorStatusText(r.supervisor.status)}${r.supervisor.level !== null ? ` at level ${r.supervisor.level}` : ''}`);
  lines.push(`${r.done} / ${r.total} dossier(s) done, ${r.failed} failed`);
  for (const f of r.failures) lines.push(`  ${f.code}: ${f.error}`);
  if (r.failuresTotal > r.failures.length) lines.push(`  and ${r.failuresTotal - r.failures.length} more: ${r.runId !== null ? patchRunStatusCommand(r.target, r.runId) : `nightshift patch status --target ${r.target}`}`);
  // the advice `patch status --run N` gives for this run (the run's row unread: the result's retry command alone)
  if (outcome) lines.push(...adviceLines(outcome));
  else if (r.retryCommand) lines.push(`retry them: ${r.retryCommand}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  const failedBelow = outcome?.failedBelowSupervisor ?? 0;
  const others = othersToRevalidate(r, outcome?.failedCodes ?? new Set(), failedBelow);
  if (others.count) {
    const besides = failedBelow ? `, besides the ${failedBelow} failed one(s) above` : '';
    lines.push(
      `${others.count} ${failedBelow ? 'other ' : ''}dossier(s) below the supervisor's level ${r.supervisorLevel} (R-PI-9)${besides}: ${others.list.map((d) => `${d.code}@${d.level}`).join(', ')}${moreText(others.count, others.list.length)}`,
    );
    // a command that can be pasted: the codes when they are few (and all listed), else revalidate with none (every dossier below the level)
    const named = others.count <= 5 && others.list.length === others.count;
    lines.push(
      `bring them up with: nightshift patch revalidate ${named ? `${others.list.map((d) => d.code).join(' ')} ` : ''}--target ${r.target}` +
        (named ? '' : ` (every dossier below the supervisor's level${failedBelow ? ', the failed ones too: fix them first' : ''})`),
    );
  }
  return lines.join('\n');
}

/** What `patch status` advises for a run's failed dossiers still behind: a retry, or what works instead (R-PI-4). */
export interface RunAdvice {
  retryCommand?: string;
  /** R-PI-4: why a retry would be refused, and what works instead */
  retryRefused?: string;
  integrateCommand?: string;
  /** R-PI-11: the dossiers it had patched that a rollback by hand took back, still below its last patch: a retry does not take them, this does */
  revalidateRolledBack?: { count: number; command: string; everyBelow: boolean };
}

type RunFacts = Pick<RecentRun, 'id' | 'state' | 'behind' | 'last_patch' | 'supervisorFailed' | 'sourceDir' | 'rolledBack'> & Partial<Pick<RecentRun, 'packageHeld'>>;

export function runAdvice(target: string, r: RunFacts, supervisor: { code: string; patch_level: number } | undefined): RunAdvice {
  if (r.state === 'running') return {};
  const refused = retryAboveSupervisorProblem(
    { target, runId: r.id, upTo: r.last_patch ?? 0, supervisor: supervisor ? { code: supervisor.code, level: supervisor.patch_level } : null, supervisorRetried: r.supervisorFailed, dir: r.sourceDir },
    'a retry is refused',
  );
  if (refused) {
    // R-PI-11: its patched dossiers restored with the supervisor by a rollback: the run is undone, neither retry nor refusal
    if (r.rolledBack.patched || !r.behind) return {};
    return { retryRefused: refused, integrateCommand: patchIntegrateCommand(target, r.sourceDir) };
  }
  // R-PI-11: a rollback by hand of dossiers it had patched: a retry takes its failed dossiers only, revalidate (R-PI-9) brings those back
  const { patchedBehind, patchedBehindCodes } = r.rolledBack;
  // a command that can be pasted: the codes when they are few (and all listed), else revalidate with none (every dossier below the level)
  const everyBelow = patchedBehindCodes.length < patchedBehind;
  const command = `nightshift patch revalidate ${everyBelow ? '' : `${patchedBehindCodes.join(' ')} `}--target ${target}`;
  return {
    ...(r.behind ? { retryCommand: patchRetryCommand(target, r.id) } : {}),
    // stopped at its supervisor: when a package is at fault, its folder integrated again once fixed is the way on
    ...(r.behind && (r.supervisorFailed || r.packageHeld === false) && r.sourceDir ? { integrateCommand: patchIntegrateCommand(target, r.sourceDir) } : {}),
    ...(patchedBehind && supervisor ? { revalidateRolledBack: { count: patchedBehind, command, everyBelow } } : {}),
  };
}

/** The advice beneath a run (`patch status` and --wait's result say the same): the retry and whose fault it is, or why not; the rolled-back ones' revalidate. */
export function adviceLines(a: RunAdvice & Pick<RecentRun, 'packageHeld'> & Partial<Pick<RecentRun, 'supervisorHolds'>>): string[] {
  // a package at fault: its fix and the integration of its folder first (a retry applies the stored package again: drill A,
  // session 35, the retry `patch status` led with failed the same way; drill F2, session 37: also when the supervisor
  // applied it, the fix then going through `patch repair`)
  const lines = a.retryCommand
    ? a.packageHeld
      ? [`retry them: ${a.retryCommand}`, faultAdvice(true)]
      : [faultAdvice(false, a.supervisorHolds ?? false), ...(a.integrateCommand ? [`then: ${a.integrateCommand}`] : [])]
    : a.retryRefused
      ? [a.retryRefused]
      : [];
  const back = a.revalidateRolledBack;
  if (back)
    lines.push(
      `${back.count} dossier(s) it had patched were rolled back since (R-PI-11): ${a.retryCommand ? 'the retry takes its failed dossiers only; ' : ''}` +
        `bring them back up with: ${back.command}${back.everyBelow ? " (every dossier below the supervisor's level)" : ''}`,
    );
  return lines;
}

/** ", rolled back by rollback run 3 (6 dossiers)" on a run's line (R-PI-11), or nothing. */
export function rolledBackText(r: Pick<RecentRun, 'rolledBack'>): string {
  const { dossiers, by } = r.rolledBack;
  if (!dossiers) return '';
  return `, rolled back by rollback run${by.length > 1 ? 's' : ''} ${by.join(', ')} (${dossiers} dossier(s))`;
}

/** What became of a run's failed dossiers since: all brought up, or some deleted (drill R: a deleted one read "brought up"). */
function failedSince(r: Pick<RecentRun, 'failed' | 'behind' | 'gone'>): string {
  if (r.gone) return r.gone === r.failed ? ' (deleted since)' : ` (${r.gone} deleted since)`;
  return r.behind ? '' : ' (brought up since)';
}

/** A run's line in `patch status`, and its advice beneath (and where its failed dossiers are listed: `listed`). */
export function runText(r: RecentRun & RunAdvice, listed?: string): string {
  return (
    `run ${r.id} ${r.workflow_id}: ${r.mode} ${r.state}${r.last_patch ? ` ${patchSpanText({ first: r.first_patch ?? r.last_patch, last: r.last_patch })}` : ''}` +
    `${r.failed ? `, ${r.failed} failed${failedSince(r)}` : ''}${r.notStarted ? `, ${r.notStarted} not started (--max-failures stopped it)` : ''}` +
    `${rolledBackText(r)}${r.error ? ` (${r.error})` : ''}` +
    adviceLines(r).map((l) => `\n  ${l}`).join('') +
    (listed ? `\n  every failed dossier and why: ${listed}` : '')
  );
}

/** What `patch status --run N` shows of the run's notes (a --max-failures stop and how many it did not start, its plan, restore points). */
export function runNotesLines(r: Pick<RecentRun, 'notes'>): string[] {
  return r.notes.length ? ['notes:', ...r.notes.map((n) => `  ${n}`)] : [];
}

/** The run's facts beside its result, for --wait (null: no row for it, e.g. refused before it was recorded). */
async function runOutcome(target: string, runId: number | null): Promise<RunOutcome | undefined> {
  if (runId === null) return undefined;
  return withPools(target, async (pool) => {
    const [run] = await listRecentRuns(pool, runId);
    if (!run) return undefined;
    const { failures } = await runFailures(pool, run.id, null);
    return {
      ...runAdvice(target, run, await supervisorRow(pool)),
      packageHeld: run.packageHeld,
      supervisorHolds: run.supervisorHolds,
      failedCodes: new Set(failures.map((f) => f.code)),
      failedBelowSupervisor: run.failedBelowSupervisor,
    };
  });
}

/**
 * A run row left 'running' by a workflow that no longer runs (terminated by hand, timed out) would block
 * every later run (R-PI-2: one patch run per target): it is closed as abandoned. Every patch is its own
 * transaction, so its dossiers are each at a whole patch level; those of its last chunks not finished fail as not
 * finished (`patch retry --run ID` takes them), the ones it never reached below the supervisor show in `patch status`
 * and `patch revalidate` brings them up (R-PI-9).
 */
export async function closeAbandonedRuns(pool: pg.Pool, client: Client): Promise<AbandonedRun[]> {
  const rows = await listRunningRuns(pool);
  const closed: AbandonedRun[] = [];
  for (const r of rows) {
    const status = await workflowStatus(client, r.workflowId);
    if (mayStillRun(status)) continue;
    const done = await closeAbandonedRun(pool, r.id, status);
    if (done) closed.push({ id: Number(r.id), workflowId: r.workflowId, status: status.toLowerCase(), notDone: done.notDone, begun: done.begun });
  }
  return closed;
}

/** Closes the abandoned runs (as above), each said on stderr with the dossiers it left not finished and the retry that takes them. */
async function closeAbandonedRunsSaid(target: string, client: Client): Promise<void> {
  const abandoned = await withPools(target, (pool) => closeAbandonedRuns(pool, client));
  for (const a of abandoned) process.stderr.write(`${abandonedRunText(target, a)}\n`);
}

/** A patch run closed as abandoned: its dossiers left not finished, and of them those the ledger shows begun (store/patch/close-abandoned-run.ts). */
export interface AbandonedRun {
  id: number;
  workflowId: string;
  status: string;
  notDone: number;
  begun: number;
}

/**
 * "nightshift: closed patch run 11 (patch/main/…): its workflow is terminated; 28 dossier(s) of its last chunk(s) failed as
 * not finished (2 of them had begun: a patch applied or a restore point taken), a retry takes them: …". A chunk opens a row
 * for each of its dossiers and patches them one after another: most of them had not begun (tester B: "28 it had begun", 2).
 */
export function abandonedRunText(target: string, a: AbandonedRun): string {
  const begun = a.begun ? `${a.begun} of them had begun: a patch applied or a restore point taken` : 'none of them had a patch applied or a restore point taken';
  const notDone = a.notDone
    ? `; ${a.notDone} dossier(s) of its last chunk(s) failed as not finished (${begun}), a retry takes them: ${patchRetryCommand(target, a.id)}`
    : '';
  return `nightshift: closed patch run ${a.id} (${a.workflowId}): its workflow is ${a.status}${notDone}`;
}

/** R-PI-2 refused: every unmet prerequisite on its own line. */
function refusal(target: string, prerequisites: Prerequisite[], what: string): Error {
  const failed = prerequisites.filter((q) => !q.ok);
  return patchFailure(PatchFailure.PrerequisiteFailed, [`patch run refused on ${target} (R-PI-2), ${what}:`, ...failed.map((q) => `  ${q.name}: ${q.detail}`)].join('\n'));
}

/**
 * The claim's verdict on a started run: its prerequisites once a worker has claimed it (a start that
 * raced another run or a backup batch is refused there), or null when no worker took it in time.
 */
async function claimVerdict(target: string, workflowId: string): Promise<{ ok: boolean; prerequisites: Prerequisite[] } | null> {
  return withPools(target, async (pool) => {
    // NIGHTSHIFT_CLAIM_WAIT_S: how long a worker may take to claim the run (the claim checks R-PI-2 again, under its lock)
    const end = Date.now() + config().claimWaitSeconds * 1000;
    for (;;) {
      const prerequisites = await readRunPrerequisites(pool, workflowId);
      if (prerequisites) return { ok: prerequisites.every((q) => q.ok), prerequisites };
      if (Date.now() > end) return null;
      await new Promise((r) => setTimeout(r, 200));
    }
  });
}

/** The dossiers the operator named, the first 5 then a count (the Web UI's summary, `patch integrate`'s lines). */
const codesText = (codes: string[]): string => `${codes.slice(0, 5).join(', ')}${codes.length > 5 ? ` and ${codes.length - 5} more` : ''}`;

/** `--max-failures` read (exit 2 when it is neither a count nor a percentage): first thing each starting command does. */
function maxFailuresOf(flags: StartFlags): MaxFailures | undefined {
  return flags.maxFailures === undefined ? undefined : parseFlag('--max-failures', MAX_FAILURES_FLAG, flags.maxFailures);
}

/**
 * Every run (integrate, revalidate, retry): R-PI-2 is checked before anything starts, and a run started without
 * --wait is reported once a worker has claimed it (two retries of one run at once: the second is told it was refused,
 * not "started").
 */
async function startRun(raw: PatchIntegrationInput, flags: StartFlags, summary: string): Promise<number | void> {
  const maxFailures = maxFailuresOf(flags);
  const input: PatchIntegrationInput = { ...raw, ...(maxFailures && { maxFailures }) };
  return withTemporal(async (client) => {
    await closeAbandonedRunsSaid(input.target, client);
    const prerequisites = await withPools(input.target, (pool) => patchPrerequisites(pool, input.target, input.windowWorkflowId));
    if (!prerequisites.every((q) => q.ok)) throw refusal(input.target, prerequisites, 'nothing started');
    const handle = await startPatchRun(client, input, { taskQueue: config().temporal.taskQueue, summary });
    const workflowId = handle.workflowId;
    const started = { workflowId, runId: handle.firstExecutionRunId, url: webUiLink(workflowId, handle.firstExecutionRunId) };
    const startedText = `started ${workflowId}\nfollow it in the Temporal Web UI: ${started.url}`;
    if (!flags.wait) {
      const verdict = await claimVerdict(input.target, workflowId);
      if (verdict && !verdict.ok) throw refusal(input.target, verdict.prerequisites, `the run ${workflowId} ended at once and changed nothing`);
      const checked = verdict ? 'prerequisites met (R-PI-2)' : `no worker has taken the run within ${config().claimWaitSeconds} s: its prerequisites (R-PI-2) are not checked yet`;
      return output(flags.json, { ...started, prerequisites: verdict?.prerequisites ?? null }, () => `${startedText}\n${checked}`);
    }
    const unsay = sayOnInterrupt('patch run', `follow it with 'nightshift patch status --target ${input.target}' or in the Temporal Web UI: ${started.url}`);
    if (!flags.json) process.stdout.write(`${startedText}\n`);
    // progress as the backup batch's --wait says it: a line when it changed, at most every 5 s (terminal or not)
    const stop = followProgress(() => handle.query(patchProgressQuery), progressText, { json: flags.json });
    try {
      // a run with failed dossiers FAILS (PatchRunPartial, so that the workflow list shows it): its result rides in the failure
      const result = await lastingResult(() => handle.result(), 'the patch run').catch(async (err: unknown) => {
        const partial = partialPatchResult(err);
        if (partial) return partial;
        // stopped at its supervisor: the run's number and what `patch status --run N` advises, not the failure alone (R-OP-1)
        const stopped = supervisorFailureOf(err);
        const advice = stopped && !flags.json ? await runOutcome(input.target, stopped.runId) : undefined;
        if (!stopped || !advice) throw err;
        // (the failure's type is printed before it, from its cause)
        throw new SaidError([`patch run ${stopped.runId}: ${innermostMessage(err)}`, ...adviceLines(advice).map((l) => `  ${l}`)].join('\n'), { cause: err });
      });
      const outcome = result.failed ? await runOutcome(input.target, result.runId) : undefined;
      output(flags.json, { ...started, result }, (v) => resultText(v.result, outcome));
      return result.state === 'completed' ? undefined : EXIT_FAILED;
    } finally {
      unsay();
      stop();
    }
  });
}

export function registerPatchCommands(program: Command): void {
  const patch = program.command('patch').description('integrate patch packages into the dossiers of a target (supervisor first)');

  patch
    .command('integrate')
    .description('verify a directory of patch packages and integrate them (inside a maintenance window, R-PI-2)')
    .argument('<dir>', 'the directory of patch packages (the worker reads it: give a path it can open)')
    .option('--dossiers <codes>', 'only these dossiers, comma-separated (treatments need the supervisor in the list, R-PI-3)')
    .option('--max-failures <n|percent>', MAX_FAILURES_HELP)
    .option('--wait', 'wait for the run and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (dirArg: string, flags: StartFlags) => {
        maxFailuresOf(flags);
        const dir = folderArgument('DIR', dirArg);
        const t = target(flags.target);
        const dossiers = flags.dossiers === undefined ? undefined : parseFlag('--dossiers', onlyCodesSchema, flags.dossiers);
        await checkPatchDirHere(t.name, dir);
        // R-PI-3: an unknown code is refused before anything starts (the run would refuse it once started)
        if (dossiers) await withPools(t.name, (pool) => refuseUnknownCodes(pool, t.name, dossiers, { flag: '--dossiers' }));
        const nothing = await refuseWhatThePlanRefuses(t.name, dir, dossiers);
        // Flyway's "Schema is up to date. No migration necessary.": no run that does nothing, and no window needed to hear it
        // (R-PI-2 is the run's), as revalidate says "nothing to revalidate"
        if (nothing) {
          const which = dossiers ? `every selected dossier (${codesText(dossiers)})` : `every dossier (${nothing.dossiers})`;
          const packages = nothing.packages === 1 ? 'the package' : `the ${nothing.packages} packages`;
          output(flags.json, { upToDate: true, target: t.name, dir, packages: nothing.packages, lastPatch: nothing.lastPatch, dossiers: nothing.dossiers, selected: dossiers ?? null, supervisor: nothing.supervisor }, () =>
            `nothing to integrate on ${t.name}: ${which} already has ${packages} of ${dir} (highest patch ${nothing.lastPatch}), ` +
            `none below the supervisor ${nothing.supervisor.code}'s level ${nothing.supervisor.level} (R-PI-8, R-PI-9): nothing started`,
          );
          return;
        }
        // R-OP-1: the Web UI's summary says which dossiers, as the command did (drill A, session 35)
        const named = dossiers ? ` (dossiers ${codesText(dossiers)})` : '';
        return startRun({ target: t.name, mode: 'integrate', dir, dossiers }, flags, `Patch integration of ${path.basename(dir)} on ${t.name}${named}`);
      }),
    );

  registerPatchPlanCommand(patch);
  registerPatchRepairCommand(patch);
  registerPatchRollbackCommand(patch);
  registerPatchHistoryCommand(patch);

  patch
    .command('status')
    .description("each dossier's patch level, the supervisor's, and the dossiers to revalidate (R-PI-9); with --run, every failed dossier of that run and why")
    .option('--run <id>', 'one patch run: every failed dossier with its reason')
    .option('--rollback <id>', 'one rollback run: its scope, the dossiers it restored, every one it could not with the reason, the retry')
    .option('--dossiers', `every dossier's level, one line each (the default up to ${DOSSIER_LINES_MAX} dossiers; above, the count per level)`)
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: { target?: string; run?: string; rollback?: string; dossiers?: boolean; json?: boolean }) => {
        const t = target(flags.target);
        const runId = flags.run === undefined ? undefined : Number(parseFlag('--run', runIdSchema, flags.run));
        const rollbackId = flags.rollback === undefined ? undefined : Number(parseFlag('--rollback', runIdSchema, flags.rollback));
        if (runId !== undefined && rollbackId !== undefined) throw new UsageError('--run and --rollback: give one (a patch run or a rollback run)');
        await withPools(t.name, async (pool) => {
          if (rollbackId !== undefined) {
            // a rollback whose workflow was terminated is shown as it is, not as running (closed as the next rollback would)
            await withTemporal((client) => closeAbandonedRollbacks(pool, client)).catch(() => undefined);
            const rollback = await rollbackRunStatus(pool, t.name, rollbackId);
            if (!rollback) throw new UsageError(`no rollback run ${rollbackId} on ${t.name} (patch status names the rollback runs of each patch run)`);
            output(flags.json, rollback, (v) =>
              [
                rollbackResultText(v),
                `started ${operatorDateTime(v.startedAt, config().timeZone)}${v.finishedAt ? `, finished ${operatorDateTime(v.finishedAt, config().timeZone)}` : ''} (${config().timeZone})`,
                ...(v.error ? [`error: ${v.error}`] : []),
              ].join('\n'),
            );
            return;
          }
          // a run whose workflow was cancelled or terminated is shown as it is, not as running (closed as the next run would)
          if ((await listRunningRuns(pool)).length) {
            const abandoned = await withTemporal((client) => closeAbandonedRuns(pool, client)).catch(() => []);
            for (const a of abandoned) process.stderr.write(`${abandonedRunText(t.name, a)}\n`);
          }
          const supervisor = await supervisorRow(pool);
          if (runId !== undefined) {
            const [run] = await listRecentRuns(pool, runId);
            if (!run) throw new UsageError(`no patch run ${runId} on ${t.name} (see 'nightshift patch status')`);
            const { failures, total } = await runFailures(pool, run.id, null);
            const value = { target: t.name, ...run, ...runAdvice(t.name, run, supervisor), failures, failuresTotal: total };
            output(flags.json, value, (v) =>
              [runText(v), ...runNotesLines(v), ...(v.failures.length ? ['failed dossiers:', ...v.failures.map((f) => `  ${f.code}: ${f.error}`)] : [])].join('\n'),
            );
            return;
          }
          const dossiers = await listDossierLevels(pool);
          const list = await revalidationList(pool);
          const runs = await listRecentRuns(pool);
          const running = (await listRunningRuns(pool))[0];
          // the running run's progress, as --wait and the Web UI give it (its workflow answers while a worker runs)
          const asked = running ? await withTemporal((c) => c.workflow.getHandle(running.workflowId).query(patchProgressQuery)).catch(() => undefined) : undefined;
          // the workflow counts a chunk's failures when the chunk reports; the ledger has each as it is recorded: the
          // higher count, so that one output does not say 3 failed and 11 failed of the same run (drill M)
          const recorded = running && runs.find((r) => r.id === Number(running.id));
          const progress = asked && recorded ? { ...asked, failed: Math.max(asked.failed, recorded.failed) } : asked;
          // a rollback at work holds every patch run back (R-PI-2): said here, not found out from a refused retry
          const rollback = (await runningRollbackRuns(pool))[0];
          const value = {
            target: t.name,
            supervisorLevel: list.supervisorLevel,
            dossiers: dossiers.map((d) => ({ code: d.code, role: d.role, test: d.is_test, specific: d.is_specific, level: d.patch_level })),
            toRevalidate: list.toRevalidate,
            toRevalidateCount: list.toRevalidateCount,
            // a run at work brings dossiers up as it goes: the list is what to revalidate once it has ended, not now
            runningRun: running ? { id: Number(running.id), workflowId: running.workflowId, progress: progress ? { phase: progress.phase, done: progress.done, total: progress.total, failed: progress.failed } : null } : null,
            runningRollback: rollback ?? null,
            // a retry only where failed dossiers are still behind (a retry or revalidation since may have brought them up) and it may go (R-PI-4)
            recentRuns: runs.map((r) => ({ ...r, ...runAdvice(t.name, r, supervisor) })),
            // a `patch repair` cut off: some ledgers realigned, the package not yet replaced (a run fails those dossiers)
            unfinishedRepairs: await unfinishedRepairs(pool),
          };
          output(flags.json, value, (v) =>
            [
              `target ${v.target}: supervisor at level ${v.supervisorLevel ?? '(no supervisor)'}`,
              ...(flags.dossiers || v.dossiers.length <= DOSSIER_LINES_MAX
                ? v.dossiers.map((d) => `  ${d.code.padEnd(20)} ${String(d.level).padStart(5)}  ${d.role}${d.test ? ' test' : ''}${d.specific ? ' specific' : ''}`)
                : levelSummary(v.dossiers)),
              ...(progress ? [`now: ${progressText(progress)}`] : []),
              v.runningRun
                ? `patch run ${v.runningRun.id} (${v.runningRun.workflowId}) is running: it brings dossiers up as it goes; ` +
                  `${v.toRevalidateCount} below the supervisor's level now, the list to revalidate (R-PI-9) is for once it has ended (patch status then)`
                : v.toRevalidateCount
                  ? `${v.toRevalidateCount} dossier(s) to revalidate (R-PI-9): ${v.toRevalidate.map((d) => d.code).join(', ')}${moreText(v.toRevalidateCount, v.toRevalidate.length)}` +
                    ` — nightshift patch revalidate --target ${v.target} (every one of them) or nightshift patch revalidate CODE... --target ${v.target}`
                  : 'no dossier to revalidate',
              ...(v.runningRollback
                ? [
                    `rollback run ${v.runningRollback.id} (${v.runningRollback.workflowId}) is running: no patch run starts until it has ended (R-PI-2); ` +
                      'follow it in the Temporal Web UI (its workflow id above)',
                  ]
                : []),
              ...v.recentRuns.map((r) => runText(r, r.failed ? patchRunStatusCommand(v.target, r.id) : undefined)),
              ...v.unfinishedRepairs.map(unfinishedRepairLine),
            ].join('\n'),
          );
        });
      }),
    );

  patch
    .command('revalidate')
    .description("bring dossiers up to the supervisor's level with the stored packages (default: every one below it)")
    .argument('[codes...]', 'dossier codes')
    .option('--max-failures <n|percent>', MAX_FAILURES_HELP)
    .option('--wait', 'wait for the run and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (codes: string[], flags: StartFlags) => {
        maxFailuresOf(flags);
        const t = target(flags.target);
        const dossiers = codes.length ? parseFlag('CODE', codesSchema, codes) : undefined;
        // as integrate --dossiers: an unknown code is refused before anything starts (the run would fail on it)
        if (dossiers) await withPools(t.name, (pool) => refuseUnknownCodes(pool, t.name, dossiers));
        // R-PI-9: none of them below the supervisor's level (or none at all): nothing to bring up, no run that does
        // nothing and reads "revalidate completed" (drill A, session 35), as retry says "nothing to retry"
        const upToDate = await withPools(t.name, async (pool) => {
          const sup = await supervisorRow(pool);
          return sup && (await belowSupervisorCount(pool, sup, dossiers)) === 0 ? sup : undefined;
        });
        if (upToDate) {
          const which = dossiers ? `${dossiers.join(', ')}: at or above` : 'no dossier below';
          output(flags.json, { revalidated: 0, supervisor: { code: upToDate.code, level: upToDate.patch_level } }, () =>
            `nothing to revalidate on ${t.name} (${which} the supervisor ${upToDate.code}'s level ${upToDate.patch_level}, R-PI-9): nothing started`,
          );
          return;
        }
        return startRun({ target: t.name, mode: 'revalidate', dossiers }, flags, `Patch revalidation on ${t.name}`);
      }),
    );

  patch
    .command('retry')
    .description('patch again the failed dossiers of a run (default: the last run with failures); a run stopped at its supervisor or by --max-failures goes on to the dossiers it did not start')
    .option('--run <id>', 'the patch run id (see patch status)')
    .option('--max-failures <n|percent>', MAX_FAILURES_HELP)
    .option('--wait', 'wait for the run and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: StartFlags) => {
        maxFailuresOf(flags);
        const t = target(flags.target);
        const retryOf = flags.run === undefined ? undefined : parseFlag('--run', runIdSchema, flags.run);
        // a run whose workflow was terminated is closed first (its dossiers not finished failed, NotDone), not said "still running"
        await withTemporal((client) => closeAbandonedRunsSaid(t.name, client)).catch(() => undefined);
        // the run it would take, read first: a wrong number, a run still going or nothing failed start nothing
        const source = await withPools(t.name, (pool) => retryPreview(pool, retryOf));
        if (!source) {
          if (retryOf !== undefined) throw new UsageError(`no patch run ${retryOf} on ${t.name}: nothing started (see 'nightshift patch status')`);
          output(flags.json, { retried: 0 }, () => `no patch run with failed dossiers on ${t.name}: nothing to retry`);
          return;
        }
        if (source.state === 'running') throw new UsageError(`patch run ${source.id} is still running: retry it once it has ended`);
        if (!source.failed && !source.recorded && source.state === 'failed') {
          // drill M: a run that failed as a whole (its folder unreadable, its prerequisites not met) was said to have
          // "no failed dossier: nothing to retry", exit 0: it touched no dossier, so it is started again, not retried
          const again =
            source.mode === 'integrate' && source.sourceDir
              ? `nightshift patch integrate ${JSON.stringify(source.sourceDir)} --target ${t.name}`
              : source.mode === 'revalidate'
              ? `nightshift patch revalidate --target ${t.name}`
              : `see nightshift patch status --run ${source.id} --target ${t.name}`;
          throw new SaidError(
            `patch run ${source.id} failed as a whole before any dossier (${oneLine(source.error ?? 'no reason recorded')}): nothing to retry; once fixed, start it again: ${again}`,
          );
        }
        if (!source.failed) {
          // a run that failed after some dossiers, none of them failed (terminated between two chunks): those it did not finish are below
          const ended =
            source.state === 'failed'
              ? ` (it failed: ${oneLine(source.error ?? 'no reason recorded')}; the dossiers it did not finish are below the supervisor's level: nightshift patch revalidate --target ${t.name}, R-PI-9)`
              : '';
          output(flags.json, { runId: source.id, retried: 0 }, () => `patch run ${source.id} has no failed dossier: nothing to retry${ended}`);
          return;
        }
        // R-PI-4: the supervisor below the run's patches (rolled back since): its failed dossiers would end above it
        const above = retryAboveSupervisorProblem(
          { target: t.name, runId: source.id, upTo: source.last_patch ?? 0, supervisor: source.supervisor, supervisorRetried: source.supervisorFailed, dir: source.dir },
          'nothing started',
        );
        if (above) throw patchFailure(PatchFailure.SupervisorBehind, above);
        // as `backup retry`: a failed dossier brought up since (patch revalidate, a later run) or deleted needs no retry: said, left out
        // (tester B: run 25's retry took 55 rows and applied nothing); none left: nothing started
        const scope = await withPools(t.name, async (pool) => retryScope(pool, source.id, Boolean(source.notStarted) || Boolean(await stoppedAtSupervisor(pool, source.id))));
        const leftOut = scope.leftOut.map((d) => ({ code: d.code, reason: leftOutReason(d, source.last_patch ?? 0, t.name) }));
        const leftOutText = [
          ...leftOut.slice(0, LEFT_OUT_SHOWN).map((x) => `  ${x.code}: ${x.reason}`),
          ...(scope.leftOutTotal > Math.min(LEFT_OUT_SHOWN, leftOut.length) ? [`  and ${scope.leftOutTotal - Math.min(LEFT_OUT_SHOWN, leftOut.length)} more (--json lists the first ${leftOut.length})`] : []),
        ];
        if (!scope.behind && !scope.notStartedBehind) {
          output(flags.json, { runId: source.id, retried: 0, leftOut, leftOutTotal: scope.leftOutTotal }, () =>
            [`patch run ${source.id}: none of its ${source.failed} failed dossier(s) needs a retry: nothing to retry, nothing started`, ...leftOutText].join('\n'),
          );
          return;
        }
        if (scope.leftOutTotal && !flags.json) {
          process.stdout.write(`${[`patch run ${source.id}: ${scope.leftOutTotal} of its ${source.failed} failed dossier(s) need no retry, left out; retrying the other ${scope.behind}`, ...leftOutText].join('\n')}\n`);
        }
        const andNotStarted = source.notStarted ? ` and the ${source.notStarted} it did not start (--max-failures stopped it)` : '';
        // its limit is not carried (drill A, session 35: the retry ran on past it, unsaid): said, with how to keep one
        if (source.notStarted && flags.maxFailures === undefined && !flags.json) {
          process.stderr.write(`patch run ${source.id} was stopped by --max-failures: this retry has no limit (give --max-failures again to keep one)\n`);
        }
        return startRun({ target: t.name, mode: 'retry', retryOf }, flags, `Patch retry of the failed dossiers of run ${source.id}${andNotStarted} on ${t.name}`);
      }),
    );

  patch
    .command('new')
    .description('write a template package P{number} into DIR (edit it, then "patch seal")')
    .argument('<dir>', 'the patch directory')
    .requiredOption('--number <n>', 'the patch number')
    // read in any case as the other fixed words (README: STANDARD is standard), so not commander's exact .choices
    .option('--type <type>', `patch type: ${PATCH_TYPES.join(', ')}`, 'standard')
    .option('--description <text>', 'what the patch does')
    .addOption(jsonOption())
    .action(
      action(async (dir: string, flags: { number: string; type: string; description?: string; json?: boolean }) => {
        folderArgument('DIR', dir);
        const number = parseFlag('--number', patchNumberArgSchema, flags.number);
        const type: PatchType = wordFlag('--type', PATCH_TYPES, flags.type);
        const description = flags.description === undefined ? undefined : parseFlag('--description', patchDescriptionSchema, flags.description);
        const r = await writePatchTemplate(await writableFolderArgument('DIR', dir), number, type, description);
        output(flags.json, r, (v) => `wrote ${path.join(dir, v.folder)} (checksum ${v.manifest.checksum}); after editing it run: nightshift patch seal ${path.join(dir, v.folder)}`);
      }),
    );

  patch
    .command('seal')
    .description("recompute an edited package's checksum")
    .argument('<package>', 'the package folder (holding patch.json)')
    .addOption(jsonOption())
    .action(
      action(async (pkg: string, flags: { json?: boolean }) => {
        const m = await sealPatchPackage(folderArgument('PKG', pkg));
        output(flags.json, m, (v) => `patch ${v.number}: checksum ${v.checksum}`);
      }),
    );

  patch
    .command('demo')
    .description('write demo patches covering every routing case (tests, benchmarks, trying it out)')
    .argument('<dir>', 'the directory to write (created): under the shared backup folder, e.g. <backup folder>/patches/demo, for patch integrate to accept it')
    .requiredOption('--count <n>', 'how many patches')
    .option('--first <n>', 'first patch number', '1')
    .addOption(jsonOption())
    .action(
      action(async (dir: string, flags: { count: string; first: string; json?: boolean }) => {
        folderArgument('DIR', dir);
        const count = parseFlag('--count', wholeNumberSchema(1, MAX_DEMO_PATCHES), flags.count);
        // the last one's number too is a patch number (1-999,999), as `patch new --number` and the reader take
        const first = parseFlag('--first', wholeNumberSchema(1, MAX_PATCH_NUMBER - count + 1), flags.first);
        if (fs.existsSync(dir) && fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length) throw new UsageError(`${dir} is not empty`);
        const written = await generateDemoPatches(await writableFolderArgument('DIR', dir), count, first);
        output(flags.json, written.map((m) => ({ number: m.number, type: m.type, checksum: m.checksum })), (v) => `wrote ${v.length} demo patch(es) ${first}-${first + v.length - 1} into ${dir}`);
      }),
    );
}
