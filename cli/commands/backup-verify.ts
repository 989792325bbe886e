import path from 'node:path';
import type { Command } from 'commander';
import type { Client, ScheduleDescription } from '@temporalio/client';
import { z } from 'zod';
import { UsageError } from '../../config/config';
import { nobodyToldText, onlyCodesSchema } from '../../domain/backup-batch';
import { DEFAULT_SAMPLE_PERCENT, VERIFY_PARTS_MAX, NOTHING_TO_VERIFY, type VerifyScope, generationShownText, verifyPartText } from '../../domain/backup-verify';
import { shownInput } from '../../domain/text';
import { runByRef } from '../../store/backup/run-by-ref';
import { codesWithoutGeneration } from '../../store/generations/codes-without-generation';
import { runGenerationsKept } from '../../store/generations/run-generations-kept';
import { verifyRunByRef } from '../../store/verify/run-by-ref';
import { closeAbandonedVerifyRun } from '../../store/verify/close-abandoned-run';
import { mayStillRun, workflowStatus } from '../../workers/resources';
import { type VerifyRunRow, verifyRunPart } from '../../store/verify/run-row';
import { latestVerifyRunId, verifyRunProblems } from '../../store/verify/run-problems';
import { verifyRunProgress } from '../../store/verify/run-progress';
import type { Queryable } from '../../store/queryable';
import type { VerifyProblemRow } from '../../store/verify/latest-problems';
import { operatorDateTime } from '../../domain/retention';
import { scheduledVerifyAction, startBackupVerify } from '../../starts';
import { type BackupVerifyInput, type BackupVerifyPhase, type BackupVerifyResult, backupVerifyProgressQuery, verifyResult, verifyScheduleId, verifyStoppedStep } from '../../workflows/backup-verify.api';
import { action, config, EXIT_FAILED, EXIT_OK, followProgress, jsonOption, lastingResult, output, parseFlag, sayOnInterrupt, target, targetOption, wholeNumberSchema, withPools, withTemporal } from '../context';
import { namedWithCaseHints } from '../code-hints';
import { cronFlags, onExistingSchedule, setSchedule, showSchedule, stillPausedLine, warningLines } from '../schedules';
import { webUiLink } from './backup';
import { calendarCron, describeSchedule, scheduleText } from './backup-batch';
import { reportPathText } from '../report-path';

/**
 * nightshift backup verify [--full] [--codes A,B] [--run ID] [--wait] and backup verify schedule set|show|pause|unpause|trigger|delete:
 * the verification of kept generations (R-BK-13), now or as a Temporal Schedule.
 */

interface VerifyFlags {
  target?: string;
  full?: boolean;
  codes?: string;
  run?: string;
  sample?: string;
  seed?: string;
  subset?: string;
  rotate?: string;
  wait?: boolean;
  json?: boolean;
}

function resultText(r: BackupVerifyResult): string {
  return [
    `verify run ${r.runId} ${r.state} ('nightshift backup verify status ${r.runId}'): ${r.ok} / ${r.total} generation(s) ok, ${r.problems} with a problem, ${r.restored} restored into a scratch schema and compared (seed ${r.seed})`,
    // R-BK-13: why it stopped before reading every generation (the backup folder unmounted)
    ...(r.stopReason ? [`stopped: ${r.stopReason}`] : []),
    ...(r.part ? [`read ${verifyPartText(r.part)}`] : []),
    ...(r.total === 0 && r.state !== 'failed' && !r.stopReason ? [NOTHING_TO_VERIFY] : []),
    `report: ${r.reportPath ?? '(none)'}`,
    ...(r.mail ? ['the report is being mailed to the report recipients'] : []),
    ...r.failures.map((f) => `  ${f.code}: ${f.error || f.status}`),
    ...(r.failuresTotal > r.failures.length ? [`  and ${r.failuresTotal - r.failures.length} more`] : []),
    // each step's command, then why (a key or the storage to fix first is said there)
    ...(r.nextSteps?.length ? r.nextSteps.flatMap((s) => [`next: ${s.command}`, `  ${s.text}`]) : r.nextCommand ? [`next: ${r.nextCommand}`] : []),
  ].join('\n');
}

async function startVerify(input: BackupVerifyInput, flags: VerifyFlags): Promise<number> {
  return withTemporal(async (client) => {
    const handle = await startBackupVerify(client, input, { taskQueue: config().temporal.taskQueue });
    const started = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, url: webUiLink(handle.workflowId, handle.firstExecutionRunId) };
    if (!flags.wait) {
      output(flags.json, started, (s) => `started ${s.workflowId}\nfollow it in the Temporal Web UI: ${s.url}`);
      return EXIT_OK;
    }
    const unsay = sayOnInterrupt('verification', `follow it with 'nightshift backup verify status ${started.workflowId} --target ${input.target}' or in the Temporal Web UI: ${started.url}`);
    if (!flags.json) process.stdout.write(`started ${started.workflowId}\n${started.url}\n`);
    const stop = followProgress(
      () => handle.query(backupVerifyProgressQuery),
      (p) => `verify run ${p.runId ?? '?'}: ${p.done} / ${Math.max(p.selected, p.done)} generations, ${p.problems} with a problem (${p.phase})`,
      { json: flags.json },
    );
    try {
      // a run with a problem fails its workflow (BackupVerifyProblems) with the result in its details
      const result = await verifyResult(lastingResult(() => handle.result(), 'the verification')).catch(async (err: unknown) => {
        // any other failure (the backup folder unmounted: DestinationUnavailable): the run as it was closed, with why,
        // then the failure itself (stderr, exit 1)
        const closed = await closedRunResult(input.target, started.workflowId).catch(() => undefined);
        if (closed) output(flags.json, { ...started, result: closed }, (v) => resultText(v.result));
        throw err;
      });
      output(flags.json, { ...started, result }, (v) => resultText(v.result));
      return result.state === 'completed' ? EXIT_OK : EXIT_FAILED;
    } finally {
      unsay();
      stop();
    }
  });
}

/** A verify run closed by its workflow (not running, not abandoned) as its result would say it, from its row; else undefined. */
async function closedRunResult(target: string, workflowId: string): Promise<BackupVerifyResult | undefined> {
  return withPools(target, async (pool) => {
    const run = await verifyRunByRef(pool, workflowId, 'workflow_id');
    if (!run || run.state === 'running') return undefined;
    const problems = await verifyRunProblems(pool, Number(run.id));
    // the first ones in order, as `backup verify status` lists them all: "and N more" are the last ones
    const shown = problems.slice(0, FAILURES_SHOWN);
    const stopReason = run.state === 'failed' ? run.note : null;
    const part = verifyRunPart(run);
    const steps = stopReason ? [verifyStoppedStep(target, verifyRunScope(run))] : [];
    return {
      target,
      runId: Number(run.id),
      state: run.state,
      total: run.total,
      ok: run.ok,
      problems: run.problems,
      restored: run.restored,
      seed: Number(run.seed),
      ...(part && { part }),
      reportPath: run.report_path,
      mail: run.mail_state !== 'none',
      failures: shown.map((p) => ({ code: p.code, status: p.status, error: `${generationShownText(operatorDateTime(p.snapshot_at, config().timeZone), config().timeZone, path.basename(p.file))} : ${p.error ?? p.status}` })),
      failuresTotal: problems.length,
      nextCommand: steps[0]?.command ?? null,
      nextSteps: steps,
      stopReason,
    };
  });
}

/** The failures a closed run's result shows (the workflow's result shows the newest of them too). */
const FAILURES_SHOWN = 20;

/** A verify run's scope from its row (the claim's, as the activities read it back). */
function verifyRunScope(run: VerifyRunRow): VerifyScope {
  if (run.scope === 'run') return { kind: 'run', runId: Number(run.backup_run_id) };
  if (run.scope === 'codes') return { kind: 'codes', codes: run.codes ?? [] };
  const part = verifyRunPart(run);
  return part ? { kind: 'all', part } : { kind: 'all' };
}

/** A running verify run as its ledger says it now (verify_run's totals are written at its end); phase: its workflow's, null when Temporal did not answer. */
interface VerifyStatusProgress {
  done: number;
  total: number;
  ok: number;
  problems: number;
  restored: number;
  phase: BackupVerifyPhase | null;
}

interface VerifyStatus {
  run: VerifyRunRow;
  problems: VerifyProblemRow[];
  /** only while the run is running */
  progress?: VerifyStatusProgress;
}

/** How long `verify status` waits for the workflow's phase (no worker, no answer): the ledger's numbers are said anyway. */
const PHASE_QUERY_MS = 3_000;

/** The ledger's counts (one indexed count over its rows so far), the run's total from its claim, the phase if Temporal answers. */
async function verifyStatusProgress(pool: Queryable, run: VerifyRunRow): Promise<VerifyStatusProgress> {
  const ledger = await verifyRunProgress(pool, Number(run.id));
  const live = await withTemporal((c) => c.connection.withDeadline(Date.now() + PHASE_QUERY_MS, () => c.workflow.getHandle(run.workflow_id).query(backupVerifyProgressQuery))).catch(() => undefined);
  const total = Math.max(run.selected, live?.selected ?? 0, ledger.done);
  return { done: ledger.done, total, ok: ledger.ok, problems: ledger.problems, restored: ledger.restored, phase: live?.phase ?? null };
}

/** `backup verify status`: a verify run from its ledger (its numbers are its own, not a backup run's) and every problem. */
function verifyStatusText(v: VerifyStatus, zone: string): string {
  const r = v.run;
  const p = v.progress;
  const part = verifyRunPart(r);
  const scope =
    r.scope === 'run' ? `the generations of backup run ${r.backup_run_id}` : r.scope === 'codes' ? `the generations of ${(r.codes ?? []).join(', ')}` : part ? verifyPartText(part) : 'every kept generation';
  // a sample always restores at least one (the seed's anchor): a 0 % sample read "0 % restored" with one restored (drill V2, session 36)
  const restored = r.full_restore ? 'every generation restored' : `a ${Number(r.sample_percent)} % sample restored (at least one; seed ${r.seed})`;
  // a running run's totals are written at its end: its ledger says how far it is
  const counts = p
    ? `${p.done} / ${p.total} generation(s) done, ${p.problems} with a problem so far, ${p.restored} restored into a scratch schema and compared${p.phase ? ` (${p.phase})` : ''}`
    : `${r.ok} / ${r.total} generation(s) ok, ${r.problems} with a problem, ${r.restored} restored into a scratch schema and compared${
        // a run stopped early: what its scope selected and it never read, not only "0 / 0"
        r.state === 'failed' && r.selected > r.total ? `, ${r.selected - r.total} of ${r.selected} selected not verified` : ''
      }`;
  return [
    `verify run ${r.id} (${r.workflow_id}) ${r.state}${r.note ? ` (${r.note})` : ''}: ${counts}`,
    `  ${scope}; ${restored}`,
    `  started ${operatorDateTime(r.started_at, zone)}${r.finished_at ? `, finished ${operatorDateTime(r.finished_at, zone)}` : ', still running'} (${zone})`,
    // a run stopped early is mailed as a problem is (R-BK-13): nobody told is said the same way
    `  report: ${reportPathText(r.report_path, '(none yet)')}; mail: ${nobodyToldText(r.problems || (r.state === 'failed' && r.note ? 1 : 0), r.mail_state, r.settings.reportRecipients ?? []) ?? r.mail_state}${r.mail_error ? ` (${r.mail_error})` : ''}`,
    ...v.problems.map((p) => `  ${p.code} ${operatorDateTime(p.snapshot_at, zone)} ${p.status}: ${p.error ?? ''}`.trimEnd()),
  ].join('\n');
}

const SCHEDULE_FLAGS = z.object({ cron: z.string().optional(), timezone: z.string().optional(), full: z.boolean().optional() });

/** A `schedule set --cron` example: every Sunday at 06:00, the README's. */
const CRON_EXAMPLE = '0 6 * * 0';

/**
 * The cron expression a `set` without --cron keeps (drill V2, session 36: `set --timezone` alone was refused): the
 * schedule's own, written back from the server's calendar. No schedule: --cron is required, nothing is created.
 */
async function keptCron(client: Client, scheduleId: string): Promise<string> {
  const d = await onExistingSchedule(`--cron is required: there is no schedule ${scheduleId} yet to keep one from (e.g. --cron "${CRON_EXAMPLE}": Sundays at 06:00)`, () =>
    client.schedule.getHandle(scheduleId).describe(),
  );
  const crons = (d.spec.calendars ?? []).map(calendarCron);
  if (crons.length !== 1 || crons[0] === undefined) throw new UsageError(`--cron is required: schedule ${scheduleId} has no one cron expression to keep (changed outside nightshift?)`);
  return crons[0];
}

/** `--rotate T`: a number of parts, 2 to VERIFY_PARTS_MAX */
const PARTS = z
  .string()
  .regex(/^\d{1,4}$/, `expected a number of parts from 2 to ${VERIFY_PARTS_MAX}, such as 7`)
  .transform(Number)
  .refine((n) => n >= 2 && n <= VERIFY_PARTS_MAX, `expected a number of parts from 2 to ${VERIFY_PARTS_MAX}, such as 7`);
/** `--subset N/T`: part N of T, as restic's `check --read-data-subset n/t` */
const SUBSET = z
  .string()
  .regex(/^\d{1,4}\/\d{1,4}$/, `expected N/T, part N of T parts (T from 2 to ${VERIFY_PARTS_MAX}, N from 1 to T), such as 3/7`)
  .transform((v) => {
    const [part, of] = v.split('/').map(Number) as [number, number];
    return { part, of };
  })
  .refine((p) => p.of >= 2 && p.of <= VERIFY_PARTS_MAX && p.part >= 1 && p.part <= p.of, `expected N/T, part N of T parts (T from 2 to ${VERIFY_PARTS_MAX}, N from 1 to T), such as 3/7`);

/** decimal only (no `1e2`, `0x10`), as the environment's numbers */
const SAMPLE_PERCENT = z
  .string()
  .regex(/^\d{1,3}(\.\d{1,3})?$/, 'expected a percentage from 0 to 100, such as 5 or 12.5')
  .transform(Number)
  .refine((n) => n <= 100, 'expected a percentage from 0 to 100, such as 5 or 12.5');
const SEED = wholeNumberSchema(0, 2 ** 31 - 1);

/** `backup verify`'s own options, by the name commander gives them, as typed */
const VERIFY_RUN_FLAGS = { full: '--full', codes: '--codes', run: '--run', sample: '--sample', seed: '--seed', subset: '--subset', rotate: '--rotate', wait: '--wait' } as const;

/**
 * commander hands `backup verify --sample 150 schedule set …` (or `schedule set … --sample 150`) to `verify`, whose
 * action does not run: such an option would be dropped in silence. Refused instead, naming it (`set` takes --full).
 */
function refuseVerifyRunFlags(cmd: Command, allowed: (keyof typeof VERIFY_RUN_FLAGS)[] = []): void {
  const given = cmd.parent?.parent?.opts<Record<string, unknown>>() ?? {};
  for (const [key, flag] of Object.entries(VERIFY_RUN_FLAGS)) {
    if (given[key] !== undefined && !allowed.includes(key as keyof typeof VERIFY_RUN_FLAGS)) {
      throw new UsageError(`${flag} is an option of 'nightshift backup verify', not of 'backup verify schedule ${cmd.name()}'`);
    }
  }
}

/** A schedule's `--rotate T`, as `schedule set` and `schedule show` say it. */
const rotatingText = (of: number): string => `the next of ${of} parts of every kept generation in turn (--rotate ${of}: all read every ${of} runs)`;

export function registerBackupVerifyCommands(backup: Command): void {
  const verify = backup
    .command('verify')
    .description('verify the kept backups (R-BK-13): checksums of every generation, a sample restored into a scratch schema and compared')
    .option('--full', 'restore and compare every generation, not a sample')
    .option('--codes <codes>', 'only the generations of these dossiers (comma-separated)')
    .option('--run <id>', 'only the generations a backup batch run wrote (run number or workflow id)')
    .option('--sample <percent>', 'percentage of generations restored and compared (default 5, at least one per run)')
    .option('--seed <n>', 'the seed of the sample (default: drawn, shown in the result)')
    .option('--subset <N/T>', 'read only part N of T of every kept generation (as restic check --read-data-subset)')
    .option('--rotate <parts>', 'read only the next of this many parts of every kept generation (after the last run in as many parts): all read every <parts> runs')
    .option('--wait', 'follow the progress until the end (exit 1 when a generation has a problem)')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: VerifyFlags) => {
        const t = target(flags.target).name;
        if (flags.codes !== undefined && flags.run !== undefined) throw new UsageError('give either --codes or --run, not both');
        if (flags.subset !== undefined && flags.rotate !== undefined) throw new UsageError('give either --subset N/T (that part) or --rotate T (the next part in turn), not both');
        const partFlag = flags.subset !== undefined ? '--subset' : flags.rotate !== undefined ? '--rotate' : undefined;
        if (partFlag && (flags.codes !== undefined || flags.run !== undefined)) {
          throw new UsageError(`${partFlag} reads a part of every kept generation: give it without ${flags.codes !== undefined ? '--codes' : '--run'}`);
        }
        const subset = flags.subset !== undefined ? parseFlag('--subset', SUBSET, flags.subset) : flags.rotate !== undefined ? { of: parseFlag('--rotate', PARTS, flags.rotate) } : undefined;
        const codes = flags.codes === undefined ? undefined : parseFlag('--codes', onlyCodesSchema, flags.codes);
        if (codes) {
          // a mistyped code would verify nothing and say "0 / 0 ok"
          const none = await withPools(t, (pool) => codesWithoutGeneration(pool, codes));
          if (none.length) {
            // a code in the wrong case is named with the one meant (README: codes are case-sensitive)
            const named = await withPools(t, (pool) => namedWithCaseHints(pool, none));
            throw new UsageError(`--codes: no kept generation of ${named.map((c) => shownInput(c, 120)).join(', ')} in target ${t} ('nightshift backup list CODE' shows a dossier's generations)`);
          }
        }
        if (flags.full && flags.sample !== undefined) throw new UsageError('--full restores every generation: give either --full or --sample, not both');
        // the seed picks the sample: with --full there is none to pick (drill X, session 40: it was taken in silence)
        if (flags.full && flags.seed !== undefined) throw new UsageError('--full restores every generation: --seed picks a sample, give it without --full');
        const samplePercent = flags.sample === undefined ? undefined : parseFlag('--sample', SAMPLE_PERCENT, flags.sample);
        const seed = flags.seed === undefined ? undefined : parseFlag('--seed', SEED, flags.seed);
        let backupRunId: number | undefined;
        if (flags.run !== undefined) {
          const ref = flags.run;
          const run = await withPools(t, (pool) => runByRef(pool, ref, /^\d{1,15}$/.test(ref) ? 'id' : 'workflow_id'));
          if (!run) throw new UsageError(`unknown backup run "${shownInput(ref.slice(0, 60))}" in target ${t}`);
          backupRunId = Number(run.id);
          // "8 / 8 ok" of a run that wrote 1,998: the others were pruned (retention), said before, not left to guess
          const g = await withPools(t, (pool) => runGenerationsKept(pool, Number(run.id)));
          // a run that wrote nothing still kept would verify nothing and say "0 / 0 ok" (drill X, session 40), as a
          // --codes of dossiers without a generation would: refused
          if (g.kept === 0) {
            throw new UsageError(
              `--run: backup run ${run.id} ${g.written ? `wrote ${g.written} generation(s), all pruned since (retention)` : 'wrote no generation'}: nothing of it to verify; nothing started ('nightshift backup verify' checks every kept one)`,
            );
          }
          if (g.written > g.kept && !flags.json) {
            process.stdout.write(`backup run ${run.id} wrote ${g.written} generation(s); ${g.written - g.kept} were pruned since (retention): the ${g.kept} kept are verified\n`);
          }
        }
        return startVerify({ target: t, full: Boolean(flags.full), codes, backupRunId, samplePercent, seed, ...(subset && { subset }), trigger: 'manual' }, flags);
      }),
    );

  verify
    .command('status')
    .description('a verify run: scope, totals, report and mail, every problem by dossier and generation (default: the last run)')
    .argument('[run]', 'verify run number (as `backup verify` printed it) or workflow id')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (ref: string | undefined, _own: unknown, cmd: Command) => {
        // `backup verify --full status`: an option of the run, dropped in silence otherwise
        const given = cmd.parent?.opts<Record<string, unknown>>() ?? {};
        for (const [key, flag] of Object.entries(VERIFY_RUN_FLAGS)) {
          if (given[key] !== undefined) throw new UsageError(`${flag} is an option of 'nightshift backup verify', not of 'backup verify status'`);
        }
        const flags = cmd.optsWithGlobals<{ target?: string; json?: boolean }>();
        const t = target(flags.target).name;
        const v = await withPools(t, async (pool) => {
          if (ref !== undefined && !/^\d{1,15}$/.test(ref) && !/^[\w:./+-]{1,200}$/.test(ref)) throw new UsageError(`unknown verify run "${shownInput(ref.slice(0, 60))}": expected a run number or a workflow id`);
          const id = ref ?? (await latestVerifyRunId(pool));
          if (id === undefined) throw new UsageError(`no verify run yet in target ${t} (start one: 'nightshift backup verify')`);
          let run = await verifyRunByRef(pool, id, /^\d{1,15}$/.test(id) ? 'id' : 'workflow_id');
          if (!run) throw new UsageError(`unknown verify run "${shownInput(id.slice(0, 60))}" in target ${t} (verify runs are numbered apart from backup runs)`);
          if (run.state === 'running') {
            // a verification whose workflow Temporal says closed (terminated, timed out) is no longer running: closed
            // here with its ledger's totals, as `backup status` closes an abandoned batch (Temporal not answering: left)
            const status = await withTemporal((c) => workflowStatus(c, run!.workflow_id)).catch(() => 'UNKNOWN');
            if (!mayStillRun(status)) {
              // said only when this call closed it: a run whose workflow ended normally between the two reads closed itself
              if (await closeAbandonedVerifyRun(pool, run.id, status)) {
                process.stderr.write(`nightshift: closed verify run ${run.id} (${run.workflow_id}): its workflow is ${status.toLowerCase().replace('_', ' ')}\n`);
              }
              run = (await verifyRunByRef(pool, run.id, 'id'))!;
            }
          }
          const problems = await verifyRunProblems(pool, Number(run.id));
          return { run, problems, ...(run.state === 'running' && { progress: await verifyStatusProgress(pool, run) }) } satisfies VerifyStatus;
        });
        output(flags.json, v, (x) => verifyStatusText(x, config().timeZone));
      }),
    );

  const schedule = verify.command('schedule').description('the Temporal Schedule of the verification of every kept backup (overlap policy: skip)');
  // --full and --no-full (--rotate and --no-rotate) both given: commander keeps the last, the operator meant one (drill E)
  const seen = new Set<string>();
  for (const name of ['full', 'rotate']) verify.on(`option:${name}`, () => seen.add(name));
  const scheduleSet = schedule
    .command('set')
    .description('create or change the schedule')
    .option('--cron <expression>', `minute hour day-of-month month day-of-week, e.g. "${CRON_EXAMPLE}" (required to create the schedule; a change without it keeps the schedule's)`)
    .option('--timezone <tz>', "IANA time zone of the expression (default: the schedule's own when it exists, else NIGHTSHIFT_TIMEZONE or the system one)")
    .option('--full', 'restore and compare every generation at each run, not a sample')
    .option('--no-full', 'back to a sample restored at each run')
    .option('--rotate <parts>', 'each run reads only the next of this many parts of every kept generation: all read every <parts> runs')
    .option('--no-rotate', 'back to reading every kept generation whole at each run')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (_own: unknown, cmd: Command) => {
        refuseVerifyRunFlags(cmd, ['full', 'rotate']);
        for (const name of ['full', 'rotate']) if (seen.has(name) && seen.has(`no-${name}`)) throw new UsageError(`give either --${name} or --no-${name}, not both`);
        // `verify` itself takes --full, --rotate, --target and --json: commander gives them to it, so they are read with the parents'
        const raw = cmd.optsWithGlobals<{ cron?: string; timezone?: string; full?: boolean; rotate?: string | false; target?: string; json?: boolean }>();
        const flags = SCHEDULE_FLAGS.parse({ cron: raw.cron, timezone: raw.timezone, full: raw.full });
        const rotateGiven = typeof raw.rotate === 'string' ? parseFlag('--rotate', PARTS, raw.rotate) : raw.rotate;
        const spec = cronFlags({ cron: flags.cron, timezone: flags.timezone }, config().timeZone);
        const t = target(raw.target).name;
        const scheduleId = verifyScheduleId(t);
        await withTemporal(async (client) => {
          // a change of its zone or of what each run does keeps its time (README: a set changes what it is given)
          const cron = spec.cron ?? (await keptCron(client, scheduleId));
          // what each run does: as given, else as the schedule already does (changing its time keeps --full / --rotate)
          let full = false;
          let rotate: number | undefined;
          const kept: string[] = [];
          const action = (prev?: ScheduleDescription['action']) => {
            const before = prev?.type === 'startWorkflow' ? (prev.args?.[0] as Partial<BackupVerifyInput> | undefined) : undefined;
            full = flags.full ?? before?.full === true;
            rotate = rotateGiven === false ? undefined : (rotateGiven ?? before?.subset?.of);
            if (flags.full === undefined && before?.full === true) kept.push('--full (--no-full: a sample)');
            if (rotateGiven === undefined && before?.subset?.of !== undefined) kept.push(`--rotate ${before.subset.of} (--no-rotate: whole)`);
            return scheduledVerifyAction(t, config().temporal.taskQueue, full, rotate);
          };
          const set = await setSchedule(client, { scheduleId, ...spec, cron, action, description: `Verification of the kept backups of target ${t}`, what: 'the verification' });
          if (spec.cron === undefined) kept.unshift(`--cron "${cron}"`);
          // drill V2, session 36: a set on a paused schedule printed "updated" alone, as if it would run again
          const unpause = `nightshift backup verify schedule unpause${raw.target !== undefined ? ` --target ${t}` : ''}`;
          output(raw.json, { scheduleId, cron, timezone: set.timezone, full, rotate: rotate ?? null, kept, created: set.created, paused: set.paused, warnings: set.warnings }, (v) =>
            [
              `${v.created ? 'created' : 'updated'} schedule ${v.scheduleId}: "${v.cron}" (${v.timezone}), ${v.rotate ? `${rotatingText(v.rotate)}, ` : ''}${v.full ? 'every generation restored' : 'a sample restored'}, overlapping runs skipped`,
              ...(v.kept.length > 0 ? [`kept from the schedule: ${v.kept.join(', ')}`] : []),
              ...(v.paused ? [stillPausedLine(set.note, unpause)] : []),
              ...warningLines(v.warnings),
            ].join('\n'),
          );
        });
      }),
    );

  for (const name of ['full', 'no-full', 'rotate', 'no-rotate']) scheduleSet.on(`option:${name}`, () => seen.add(name));

  const onSchedule = (name: string, description: string, answer: (client: Client, scheduleId: string, json?: boolean) => Promise<void>) =>
    schedule
      .command(name)
      .description(description)
      .addOption(targetOption())
      .addOption(jsonOption())
      .action(
        action(async (_own: unknown, cmd: Command) => {
          refuseVerifyRunFlags(cmd);
          const flags = cmd.optsWithGlobals<{ target?: string; json?: boolean }>();
          const scheduleId = verifyScheduleId(target(flags.target).name);
          await withTemporal((client) => answer(client, scheduleId, flags.json));
        }),
      );
  const create = 'nightshift backup verify schedule set --cron ...';
  onSchedule('show', 'the schedule: cron, time zone, what each run restores, overlap policy, paused, next and last runs (none: said, exit 0)', (client, scheduleId, json) =>
    showSchedule(
      { scheduleId, create, json },
      async () => {
        const h = client.schedule.getHandle(scheduleId);
        const view = await describeSchedule(client, h);
        const { action } = await h.describe();
        const input = (action.type === 'startWorkflow' ? action.args?.[0] : undefined) as Partial<BackupVerifyInput> | undefined;
        return { ...view, full: Boolean(input?.full), rotate: input?.subset?.of ?? null };
      },
      (v) =>
        `${scheduleText(v)}\neach run ${v.rotate ? `reads ${rotatingText(v.rotate)} and ` : ''}restores ${v.full ? `every generation${v.rotate ? ' it reads' : ''} (--full)` : `a sample (${DEFAULT_SAMPLE_PERCENT} %, at least one per run)`} into a scratch schema and compares it`,
    ),
  );
  // as the batch's Schedule has them (drill V2, session 36: `verify schedule pause` was an unknown command)
  const act = (name: string, description: string, fn: (handle: ReturnType<Client['schedule']['getHandle']>) => Promise<void>, done: string) =>
    onSchedule(name, description, async (client, scheduleId, json) => {
      await onExistingSchedule(`no schedule ${scheduleId}: create it with '${create}'`, () => fn(client.schedule.getHandle(scheduleId)));
      output(json, { scheduleId, done }, (v) => `${v.scheduleId}: ${v.done}`);
    });
  act('pause', 'pause the schedule (a run already started goes on)', (h) => h.pause('paused with nightshift backup verify schedule pause'), 'paused');
  act('unpause', 'resume the schedule', (h) => h.unpause('resumed with nightshift backup verify schedule unpause'), 'resumed');
  // the SDK's trigger() defaults to ALLOW_ALL, not the schedule's policy: say SKIP explicitly
  act('trigger', 'start a verification now (skipped if one is running)', (h) => h.trigger('SKIP'), 'triggered (skipped if a run is already running)');
  onSchedule('delete', 'delete the schedule (runs already started go on)', async (client, scheduleId, json) => {
    await onExistingSchedule(`no schedule ${scheduleId}: create it with '${create}'`, () => client.schedule.getHandle(scheduleId).delete());
    output(json, { scheduleId, deleted: true }, (v) => `${v.scheduleId}: deleted`);
  });
}
