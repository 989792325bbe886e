import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import pg from 'pg';
import { reportPathText } from '../report-path';
import type { Client, ScheduleDescription } from '@temporalio/client';
import { z } from 'zod';
import { UsageError } from '../../config/config';
import { loadBackupSettings, setCommonBackupSetting } from '../../store/settings/backup-settings';
import {
  BACKUP_SETTING_KEYS,
  BACKUP_SETTING_LABELS,
  type BackupSettingKey,
  localDateTime,
  nobodyToldText,
  onlyCodesSchema,
  parseBackupSetting,
  settingText,
  batchBesideWorkText,
  type BatchAccount,
  batchAccount,
  batchAccountText,
  notDoneReason,
} from '../../domain/backup-batch';
import {
  type BackupBatchInput,
  type BackupBatchProgress,
  type BackupBatchResult,
  backupBatchProgressQuery,
  backupRetryCommand,
  backupScheduleId,
  batchResult,
} from '../../workflows/backup-batch.api';
import { scheduledBackupBatchAction, startBackupBatch } from '../../starts';
import {
  action,
  config,
  EXIT_FAILED,
  EXIT_OK,
  followProgress,
  jsonOption,
  lastingResult,
  output,
  parseFlag,
  sayOnInterrupt,
  sayRetries,
  target,
  targetOption,
  withPools,
  withTemporal,
} from '../context';
import { cronFlags, onExistingSchedule, setSchedule, showSchedule, warningLines } from '../schedules';
import { webUiLink } from './backup';
import { dryRunBatch } from './backup-dry-run';
import { liveWorkOnTarget } from '../live-work';
import { TARGET_NAME } from '../../domain/target';
import { CONTROL_CHARS_PROBLEM, hasControlChars, shownInput } from '../../domain/text';
import { mayStillRun, workflowStatus } from '../../workers/resources';
import type { BackupRunRow } from '../../store/backup/run-row';
import { latestRun } from '../../store/backup/latest-run';
import { leftByEarlierRuns } from '../../store/backup/left-by-earlier-runs';
import { runByRef } from '../../store/backup/run-by-ref';
import { verifyRunByRef } from '../../store/verify/run-by-ref';
import { inspectSharedFolder, refusal } from '../../shared-store/marker';
import { closeAbandonedRun } from '../../store/backup/close-abandoned-run';
import { runItemCounts } from '../../store/backup/run-item-counts';
import { type RunFailure, runFailures } from '../../store/backup/run-failures';
import { GENERATION_KINDS, type GenerationKind } from '../../domain/generation';
import { type RetentionPolicy, commonRetentionSchema, isGenerationKind, parseRetentionPolicy, retentionText, withKindPolicy } from '../../domain/retention';
import { loadRetention } from '../../store/generations/retention-plan';
import { readRetentionSetting } from '../../store/generations/prune-retention-setting';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import { lockRetentionSetting } from '../../store/settings/lock-retention-setting';
import { withTransaction } from '../../store/transaction';
import { selectionExclusions } from '../../store/dossiers/selection-exclusions';
import { kindFlag, refuseUnknownCodes } from '../code-hints';
import { retryCandidates } from '../../store/backup/retry-candidates';
import { operatorDateTime } from '../../domain/retention';
import { failureText, oneLine } from '../../domain/run-details';
import { innermostMessage } from '../../domain/failures';
import { type PruneOutcome, batchPruneOutcome, pruneOutcomeLines, settledBatchPrune } from '../prune-outcome';

/**
 * nightshift backup run|retry|status|settings|schedule: the backup batch of modified dossiers
 * (R-BK-1 .. R-BK-9). The ledger is read straight from the target database; runs go through Temporal.
 */

/** RUN is a run number or a workflow id; anything else, or a run that does not exist, is bad usage. */
/** A batch's workflow id as an operator may type it: `backup/<target>/<time>` (old local-time ids included). */
const BATCH_WORKFLOW_ID = new RegExp(`^backup/${TARGET_NAME.source.slice(1, -1)}/[\\w:.+-]{1,80}$`);

async function findRun(pool: pg.Pool, targetName: string, ref: string | undefined): Promise<BackupRunRow> {
  if (ref === undefined) {
    const latest = await latestRun(pool);
    if (!latest) throw new UsageError(`no backup run yet in target ${targetName}`);
    return latest;
  }
  const byNumber = /^\d{1,15}$/.test(ref);
  if (!byNumber && !BATCH_WORKFLOW_ID.test(ref)) {
    throw new UsageError(`unknown backup run "${ref.slice(0, 60)}": expected a run number or a workflow id backup/TARGET/TIMESTAMP`);
  }
  const run = await runByRef(pool, ref, byNumber ? 'id' : 'workflow_id');
  if (!run) {
    // verify runs are numbered apart: a number `backup verify` printed is theirs
    const verify = byNumber ? await verifyRunByRef(pool, ref, 'id') : undefined;
    throw new UsageError(`unknown backup run "${ref.slice(0, 60)}" in target ${targetName}${verify ? ` (verify run ${ref} is 'nightshift backup verify status ${ref}')` : ''}`);
  }
  return run;
}

/** The dossiers a retry skips, named in text before "and N more". */
const SKIPPED_SHOWN = 20;

/** One workflowStatus for the CLI and the activities (R-BK-1). */
export { mayStillRun, workflowStatus };

/** R-BK-1 before starting: a running run whose workflow is gone (terminated) is closed; a live one is named. */
/**
 * A started batch's claim: its run row once a worker claimed it, or its workflow's failure when the claim refused it
 * (another batch or a patch run started at the same moment); neither within the wait: not claimed yet.
 */
async function claimVerdict(pool: pg.Pool, client: Client, workflowId: string): Promise<{ claimed: boolean; refused?: string }> {
  // NIGHTSHIFT_CLAIM_WAIT_S, as `patch integrate` waits
  const end = Date.now() + config().claimWaitSeconds * 1000;
  for (;;) {
    if (await runByRef(pool, workflowId, 'workflow_id')) return { claimed: true };
    const status = await workflowStatus(client, workflowId);
    if (!mayStillRun(status)) {
      const failure = await client.workflow
        .getHandle(workflowId)
        .result()
        .then(
          () => undefined,
          (err: unknown) => innermostMessage(err),
        );
      // ended with no run row and no failure: nothing to say against it
      return failure === undefined ? { claimed: true } : { claimed: false, refused: failure };
    }
    if (Date.now() > end) return { claimed: false };
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function refuseIfRunning(pool: pg.Pool, client: Client, target: string): Promise<void> {
  const live = await liveWorkOnTarget(pool, client);
  const batch = live.find((w) => w.kind === 'backup run');
  if (batch) {
    throw new Error(
      `backup run ${batch.id} (${batch.workflowId}) is already running since ${operatorDateTime(batch.startedAt!, config().operatorTimeZone)} (${config().operatorTimeZone}): ` +
        `one batch per target at a time. Follow it with 'nightshift backup status ${batch.id}'`,
    );
  }
  // R-PI-2 from the batch's side, as its claim checks it: never a batch while patch levels change or dossiers are restored
  const work = live[0];
  if (work) {
    throw new Error(batchBesideWorkText(work, target));
  }
}

/**
 * A new common backup folder, checked on this host before it is stored (the workers check it again before each write):
 * here, it must be the target's shared store once one is recorded (its marker: moved with the store's files, or
 * `store adopt`), or every backup would be refused; missing where its parent folder is here: a typo, refused; missing
 * with its parent too: a path only the worker hosts see, stored with a note.
 */
async function checkBackupFolderHere(pool: pg.Pool, targetName: string, folder: string): Promise<void> {
  if (fs.existsSync(folder)) {
    const v = await inspectSharedFolder(pool, 'backups', folder);
    if (v.state === 'refused') {
      const r = refusal(targetName, v);
      throw new UsageError(`${folder} is not the shared store of target ${targetName} (${v.reason}): every backup would be refused there; ${r.fix}; nothing stored`);
    }
    return;
  }
  if (fs.existsSync(path.dirname(folder))) {
    throw new UsageError(`no folder ${folder} here (its folder ${path.dirname(folder)} is here, without it): make it first (with the store's files, if it moves); nothing stored`);
  }
  process.stderr.write(`note: ${folder} is not on this host: the workers must see it (each checks it is the target's shared store before writing)\n`);
}

interface RunFlags {
  target?: string;
  all?: boolean;
  only?: string;
  run?: string;
  wait?: boolean;
  json?: boolean;
  dryRun?: boolean;
}

function progressLine(p: BackupBatchProgress, tty: boolean): string {
  const total = Math.max(p.selected, p.done);
  const errors = p.failed + p.inUse;
  // the ETA only while running, and "unknown" when nothing ended lately (issue 12: no stale "ETA 1s")
  const stalled = (p.sinceLastEndSeconds ?? 0) >= 30 && p.done < total;
  const eta = p.phase !== 'running' ? '' : p.etaSeconds !== null && !stalled ? `, ETA ${p.etaSeconds}s` : `, ETA unknown${stalled ? ` (nothing ended for ${p.sinceLastEndSeconds}s)` : ''}`;
  const text = `${p.done} / ${total} dossiers, ${errors} in error, ${p.rate}/s${eta} (${p.phase})`;
  if (!tty) return `run ${p.runId ?? '?'}: ${text}`;
  const width = 24;
  const filled = total ? Math.round((p.done / total) * width) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`;
}

function resultText(r: BackupBatchResult): string {
  return [
    `backup run ${r.runId} ${r.state}: ${r.account ? batchAccountText(r.account) : `${r.ok} / ${r.total} dossier(s) backed up, ${r.failed} in error`}`,
    `report: ${r.reportPath ?? '(none)'}`,
    ...(r.mail ? ['the report is being mailed to the report recipients (R-BK-8)'] : []),
    ...(r.failures ?? []).map((f) => `  ${f.code}: ${failureText(f.status, f.error)}`),
    ...(r.failuresTotal > (r.failures ?? []).length ? [`  and ${r.failuresTotal - r.failures.length} more`] : []),
    ...(r.retryCommand ? [`next: ${r.retryCommand}`] : []),
  ].join('\n');
}

/** After `backup run --wait`'s result: its prune, or, still running, where its outcome will be said. */
function waitPruneText(p: PruneOutcome, target: string, runId: number | string): string {
  const lines = pruneOutcomeLines(p, config().timeZone);
  const later = p.status === 'running' || p.status === 'not_started' ? [`  its outcome: 'nightshift backup status ${runId} --target ${target}' (it goes on without this command)`] : [];
  return [`prune: ${lines[0]}`, ...lines.slice(1), ...later].join('\n');
}

/** `extra`: said with the start in --json (what a retry skipped) */
async function startBatch(input: BackupBatchInput, flags: RunFlags, extra: Record<string, unknown> = {}): Promise<number> {
  return withPools(input.target, async (pool) => {
    // a retry's codes come from its run's ledger (retry below), not from the operator
    const named = input.only && input.retryOf === undefined ? input.only : undefined;
    if (named) await refuseUnknownCodes(pool, input.target, named, { flag: '--only' });
    // R-BK-2 leaves them out of the nightly selection; named, they are taken, and said so
    const { shown: takenDespite, total: despiteTotal } = named ? await selectionExclusions(pool, named) : { shown: [], total: 0 };
    return withTemporal(async (client) => {
      await refuseIfRunning(pool, client, input.target);
      const handle = await startBackupBatch(client, input, { taskQueue: config().temporal.taskQueue });
      const workflowId = handle.workflowId;
      const started = {
        workflowId,
        runId: handle.firstExecutionRunId,
        url: webUiLink(workflowId, handle.firstExecutionRunId),
        ...(takenDespite.length ? { takenDespite, takenDespiteTotal: despiteTotal } : {}),
        ...extra,
      };
      if (!flags.json) {
        // without --all the run still takes only what changed since its last backup (R-BK-1): said, not implied
        const taken = input.all ? 'taken, since --only names it' : 'taken if it changed since its last backup, since --only names it (--all: taken anyway)';
        for (const t of takenDespite) process.stdout.write(`${t.code} is ${t.why}: the nightly selection leaves it out (R-BK-2); ${taken}\n`);
        if (despiteTotal > takenDespite.length) process.stdout.write(`and ${despiteTotal - takenDespite.length} more dossier(s) named that the nightly selection leaves out, taken the same way\n`);
        // a named dossier that has not changed is not taken: said before the run says "0 / 0"
        if (named && !input.all && !takenDespite.length) process.stdout.write('--only takes those of the dossiers named that changed since their last backup (--all: each of them anyway)\n');
      }
      if (!flags.wait) {
        // the claim checks R-BK-1 and R-PI-2 again under its lock: a batch started at the same moment as another is
        // refused there, and is said refused here, not "started" (drill R: two `backup run &` both said started)
        const verdict = await claimVerdict(pool, client, workflowId);
        if (verdict.refused !== undefined) throw new Error(`the run ${workflowId} was refused at once and changed nothing: ${verdict.refused}`);
        const checked = verdict.claimed ? '' : `\nno worker has taken the run within ${config().claimWaitSeconds} s: it starts when one does`;
        output(flags.json, { ...started, claimed: verdict.claimed }, (s) => `started ${s.workflowId}\nfollow it with 'nightshift backup status' or in the Temporal Web UI: ${s.url}${checked}`);
        return EXIT_OK;
      }
      // before "started" is said: a Ctrl-C from then on is told what it did not stop
      const unsay = sayOnInterrupt('batch', `follow it with 'nightshift backup status ${workflowId} --target ${input.target}' or in the Temporal Web UI: ${started.url}`);
      if (!flags.json) process.stdout.write(`started ${workflowId}\n${started.url}\n`);
      const tty = Boolean(process.stdout.isTTY) && !flags.json;
      const following = followProgress(() => handle.query(backupBatchProgressQuery), (p) => progressLine(p, tty), { json: flags.json, tty });
      // a chunk whose activity fails and is retried (the target's PostgreSQL down): said, not only "nothing ended"
      const retries = flags.json ? () => {} : sayRetries(handle, { tty });
      const stop = () => {
        following();
        retries();
      };
      try {
        // a partial run fails its workflow (BackupBatchPartial) with the result in its details
        const result = await batchResult(lastingResult(() => handle.result(), 'the batch')).catch(async (err: unknown) => {
          // a batch stopped as a whole (BackupKeyMissing, its folder unusable…) fails its workflow with that failure,
          // not with a result: its account is the run's ledger, as `backup status` gives it (the error follows on stderr)
          stop();
          const run = flags.json ? undefined : await runByRef(pool, workflowId, 'workflow_id').catch(() => undefined);
          if (run && run.state !== 'running') {
            const counts = await runItemCounts(pool, run.id);
            const failures = await runFailures(pool, run.id);
            const prune = await settledBatchPrune(pool, client, run, input.target);
            process.stdout.write(`${statusText({ run, counts, failures, account: runAccount(run, counts, failures), prune }, config().timeZone, input.target)}\n`);
          }
          throw err;
        });
        stop();
        // R-BK-11: the prune the batch started at its end, said once it has ended (drill R2, session 36: a failed prune
        // was seen in the Web UI only); the exit code stays the batch's (a race with the prune would make it change)
        if (!flags.json) output(false, result, resultText);
        const run = await runByRef(pool, workflowId, 'workflow_id');
        const prune = run ? await settledBatchPrune(pool, client, run, input.target) : undefined;
        if (flags.json || prune) output(flags.json, { ...started, result, ...(prune && { prune }) }, (v) => (v.prune ? waitPruneText(v.prune, input.target, result.runId) : ''));
        return result.state === 'completed' ? EXIT_OK : EXIT_FAILED;
      } finally {
        unsay();
        stop();
      }
    });
  });
}

/** `backup status` lists this many failures, then counts the others. */
const STATUS_FAILURES_SHOWN = 50;

/**
 * R-OP-1: one account of the run's dossiers, the one the Web UI's details, the report and `backup run --wait` give: the
 * run's `failed` (and items_failed) count every dossier not backed up, not attempted ones included (the report's « en
 * erreur(s) »); the account says which, and why a stopped batch did not attempt some.
 */
function runAccount(run: BackupRunRow, counts: Record<string, number>, failures: RunFailure[]): BatchAccount {
  const reason = run.stop_reason ?? notDoneReason(failures.find((f) => f.status === 'not_done')?.error);
  return batchAccount(counts, reason, run.selected);
}

function statusText(
  s: { run: BackupRunRow; live?: BackupBatchProgress; failures: RunFailure[]; counts: Record<string, number>; account: BatchAccount; prune?: PruneOutcome },
  zone: string,
  target: string,
): string {
  const r = s.run;
  const a = s.account;
  // in use counts as attempted (the dossier was reached, found in use, R-BK-3); not attempted: never reached
  const attempted = a.ok + a.inUse + a.failed;
  const lines = [
    `backup run ${r.id} (${r.workflow_id}) ${r.kind}${r.retry_of ? ` of run ${r.retry_of}` : ''}: ${r.state}`,
    // in the operator's zone, as every other command prints times (--json keeps ISO UTC)
    `started ${operatorDateTime(r.started_at, zone)}${r.finished_at ? `, finished ${operatorDateTime(r.finished_at, zone)}` : ''} (${zone})`,
    `${attempted} / ${a.total} dossiers attempted: ${a.ok} ok, ${a.inUse} in use, ${a.failed} failed` + (a.notDone ? `; ${a.notDone} not attempted` : ''),
    // the same sentence as the Web UI's details and the report's count (« en erreur(s) » = not backed up)
    ...(a.notBackedUp ? [batchAccountText(a)] : []),
  ];
  // the live line only while the run runs: a finished run's last ETA is stale
  if (s.live && r.state === 'running') lines.push(`progress: ${progressLine(s.live, false)}`);
  // a run closed without its report: its workflow ended before writing it (terminated: the note says so)
  lines.push(`report: ${reportPathText(r.report_path, r.state === 'running' ? '(not yet)' : '(none: the run was closed before its report was written)')}`);
  const nobodyTold = r.state === 'running' ? undefined : nobodyToldText(r.failed, r.mail_state, r.settings.reportRecipients ?? []);
  if (r.mail_state !== 'none' || nobodyTold) lines.push(`report mail: ${nobodyTold ?? r.mail_state}${r.mail_error ? ` (${r.mail_error})` : ''}`);
  if (r.note) lines.push(`note: ${r.note}`);
  // R-BK-11: the prune the batch starts at its end, before the run's own failures (a screen of them would hide it)
  if (s.prune) {
    const [first, ...rest] = pruneOutcomeLines(s.prune, zone);
    lines.push(`prune: ${first}`, ...rest);
  }
  // a screen, not 880 lines (scale drill): every one is in the report and in --json
  const shown = s.failures.slice(0, STATUS_FAILURES_SHOWN);
  if (shown.length) lines.push('failures:', ...shown.map((f) => `  ${f.code}: ${failureText(f.status, f.error)}`));
  if (s.failures.length > shown.length) lines.push(`  and ${s.failures.length - shown.length} more: every one in the report${r.report_path ? ` (${r.report_path})` : ''} and with --json`);
  // the step the Web UI's details and `--wait`'s result give (drill W, session 40: the status of a partial run had none)
  if (r.state !== 'running' && a.notBackedUp > 0) lines.push(`next: ${backupRetryCommand(target, Number(r.id))}`);
  return lines.join('\n');
}

const SCHEDULE_FLAGS = z.object({ cron: z.string(), timezone: z.string().optional() });

type Calendar = NonNullable<ScheduleDescription['spec']['calendars']>[number];
type CalendarRange = { start: number | string; end?: number | string; step?: number };

const MONTHS = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];
const WEEKDAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

/**
 * The server keeps a cron expression as a structured calendar: this writes it back as the 5 fields the
 * operator gave to `schedule set` (undefined when the calendar is not one a 5-field expression makes).
 */
export function calendarCron(c: Calendar): string | undefined {
  const num = (v: number | string, names?: string[], offset = 0): number => (typeof v === 'number' ? v : (names?.indexOf(v) ?? -1) + offset);
  const field = (ranges: readonly CalendarRange[] | undefined, min: number, max: number, names?: string[], offset = 0): string | undefined => {
    if (!ranges?.length) return undefined;
    const parts = ranges.map((r) => {
      const lo = num(r.start, names, offset);
      const hi = r.end === undefined ? lo : num(r.end, names, offset);
      const step = r.step && r.step > 1 ? `/${r.step}` : '';
      if (lo === min && hi === max) return `*${step}`;
      return `${lo === hi && !step ? lo : `${lo}-${hi}`}${step}`;
    });
    return parts.join(',');
  };
  const seconds = field(c.second as CalendarRange[] | undefined, 0, 59);
  if ((seconds !== undefined && seconds !== '0') || c.year?.length) return undefined;
  const fields = [
    field(c.minute as CalendarRange[] | undefined, 0, 59),
    field(c.hour as CalendarRange[] | undefined, 0, 23),
    field(c.dayOfMonth as CalendarRange[] | undefined, 1, 31),
    field(c.month as CalendarRange[] | undefined, 1, 12, MONTHS, 1),
    field(c.dayOfWeek as CalendarRange[] | undefined, 0, 6, WEEKDAYS),
  ];
  return fields.every((f) => f !== undefined) ? fields.join(' ') : undefined;
}

export interface ScheduleView {
  scheduleId: string;
  cron: string[];
  timezone: string;
  spec: ScheduleDescription['spec'];
  paused: boolean;
  note: string | undefined;
  overlap: string;
  nextRuns: Date[];
  /** reason: a failed run's own failure (a maintenance occurrence refused because another window holds the target, say) */
  recentRuns: { scheduledAt: Date; takenAt: Date; workflowId: string; runId: string; status: string; reason?: string }[];
  running: string[];
  skippedOverlaps: number;
}

/** A failed workflow's own reason: the innermost message of its failure (undefined when it cannot be read). */
async function failureReason(client: Client, workflowId: string, runId: string): Promise<string | undefined> {
  try {
    await client.workflow.getHandle(workflowId, runId).result();
    return undefined;
  } catch (err) {
    return scheduleRunReason(err);
  }
}

/**
 * A failure's reason on one line, whole: a partial run's message ends with its next command (`; next: nightshift backup
 * retry …`), which a cut at 200 characters left as `next: nightsh`. Messages are bounded where they are made.
 */
export function scheduleRunReason(err: unknown): string {
  return oneLine(innermostMessage(err), REASON_SHOWN_MAX);
}
const REASON_SHOWN_MAX = 4000;

export async function describeSchedule(client: Client, handle: ReturnType<Client['schedule']['getHandle']>): Promise<ScheduleView> {
  const d = await handle.describe();
  // the ten most recent runs: their status is asked of each workflow (a gone one says so)
  const recentRuns = await Promise.all(
    d.info.recentActions.map(async (a) => {
      const { workflowId, firstExecutionRunId: runId } = a.action.workflow;
      const name = await workflowStatus(client, workflowId, runId);
      const status = name === 'NOT_FOUND' ? 'gone' : name.toLowerCase();
      const reason = status === 'failed' ? await failureReason(client, workflowId, runId) : undefined;
      return { scheduledAt: a.scheduledAt, takenAt: a.takenAt, workflowId, runId, status, ...(reason && { reason }) };
    }),
  );
  return {
    scheduleId: d.scheduleId,
    cron: (d.spec.calendars ?? []).map((c) => calendarCron(c) ?? JSON.stringify(c)),
    timezone: d.spec.timezone ?? 'UTC',
    spec: d.spec,
    paused: d.state.paused,
    note: d.state.note,
    overlap: d.policies.overlap ?? 'SKIP',
    nextRuns: d.info.nextActionTimes.slice(0, 5),
    recentRuns,
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
    skippedOverlaps: d.info.numActionsSkippedOverlap,
  };
}

const OVERLAP_TEXT: Record<string, string> = {
  SKIP: 'skip (no run starts while one is running)',
  BUFFER_ONE: 'buffer one',
  BUFFER_ALL: 'buffer all',
  CANCEL_OTHER: 'cancel the running one',
  TERMINATE_OTHER: 'terminate the running one',
  ALLOW_ALL: 'allow all (runs may overlap)',
};

export function scheduleText(v: ScheduleView): string {
  const at = (t: Date) => {
    const l = localDateTime(t, v.timezone);
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    return `${p(l.year, 4)}-${p(l.month)}-${p(l.day)} ${p(l.hour)}:${p(l.minute)}`;
  };
  const row = (label: string, value: string) => `  ${label.padEnd(16)}${value}`;
  const list = (label: string, items: string[], none: string) => (items.length ? items.map((x, i) => row(i === 0 ? label : '', x)) : [row(label, none)]);
  return [
    `schedule ${v.scheduleId}`,
    ...list('cron', v.cron, '(none)'),
    row('time zone', v.timezone),
    row('overlap policy', `${OVERLAP_TEXT[v.overlap] ?? v.overlap.toLowerCase()}${v.skippedOverlaps ? `, ${v.skippedOverlaps} skipped so far` : ''}`),
    row('paused', v.paused ? `yes${v.note ? ` (${v.note})` : ''}` : 'no'),
    ...list('next runs', v.paused ? [] : v.nextRuns.map(at), v.paused ? '(none while paused)' : '(none)'),
    ...list('last runs', [...v.recentRuns].reverse().map((r) => `${at(r.scheduledAt)}  ${r.workflowId}  ${r.status}${r.reason ? `: ${r.reason}` : ''}`), '(none yet)'),
    ...list('running', v.running, '(none)'),
    `times in ${v.timezone}`,
  ].join('\n');
}

export function registerBackupBatchCommands(backup: Command): void {
  backup
    .command('run')
    .description('back up the dossiers modified since their last backup (the batch of R-BK-1, R-BK-2)')
    .option('--all', 'every selected dossier, modified or not')
    .option('--only <codes>', 'only these dossier codes (comma-separated)')
    .option('--wait', 'follow the progress until the end (exit 1 when a dossier failed)')
    .option('--dry-run', 'list the dossiers a batch started now would take, in its order and with why; start nothing')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: RunFlags) => {
        const only = flags.only === undefined ? undefined : parseFlag('--only', onlyCodesSchema, flags.only);
        if (flags.dryRun) {
          if (flags.wait) throw new UsageError('--dry-run starts nothing: --wait has nothing to follow');
          return dryRunBatch(target(flags.target).name, { all: flags.all, only, json: flags.json });
        }
        return startBatch({ target: target(flags.target).name, all: Boolean(flags.all), only, trigger: 'manual' }, flags);
      }),
    );

  backup
    .command('retry')
    .description('back up again only the failed dossiers of a run (default: the last run)')
    .option('--run <id>', 'run number or workflow id')
    .option('--wait', 'follow the progress until the end')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: RunFlags) => {
        const t = target(flags.target).name;
        const { run, candidates } = await withPools(t, async (pool) => {
          const run = await findRun(pool, t, flags.run);
          if (run.state === 'running') throw new UsageError(`backup run ${run.id} is still running: retry it once it has ended`);
          return { run, candidates: await retryCandidates(pool, run.id) };
        });
        const failed = run.total - run.ok;
        if (failed <= 0 || !candidates.length) {
          // the last run had none, an earlier one may have (a run --only after the night that left one in use): named
          const earlier = flags.run === undefined ? await withPools(t, (pool) => leftByEarlierRuns(pool, Number(run.id))) : [];
          output(flags.json, { runId: Number(run.id), retried: 0, ...(earlier.length && { earlier }) }, () =>
            [
              `backup run ${run.id} has no failed dossier: nothing to retry`,
              ...earlier.map(
                (e) =>
                  `  backup run ${e.runId} left ${e.count} dossier(s) not backed up (${e.codes.join(', ')}${e.count > e.codes.length ? ', …' : ''}): ` +
                  `nightshift backup retry --target ${t} --run ${e.runId}, or the next batch takes them first (R-BK-4)`,
              ),
            ].join('\n'),
          );
          return EXIT_OK;
        }
        // a failed dossier backed up since (and not written to after), or deleted, needs no retry: said, not redone
        const skipped = candidates
          .filter((c) => !c.registered || c.backedUpSince)
          .map((c) => ({
            code: c.code,
            reason: !c.registered
              ? `no longer a dossier of target ${t}`
              : c.doneByRun !== null
                ? `done since by backup run ${c.doneByRun} (its off-site copy caught up), not modified after`
                : `backed up since, ${operatorDateTime(c.lastBackupAt!, config().operatorTimeZone)}, not modified after`,
          }));
        const left = candidates.length - skipped.length;
        // the first 20 in text (a night of thousands would scroll away the line that matters); --json has every one
        const skippedText = [
          ...skipped.slice(0, SKIPPED_SHOWN).map((x) => `  ${x.code}: ${x.reason}`),
          ...(skipped.length > SKIPPED_SHOWN ? [`  and ${skipped.length - SKIPPED_SHOWN} more (--json lists every one)`] : []),
        ];
        if (left === 0) {
          output(flags.json, { runId: Number(run.id), retried: 0, skipped }, () =>
            [`backup run ${run.id}: none of its ${skipped.length} failed dossier(s) needs a retry: nothing started`, ...skippedText].join('\n'),
          );
          return EXIT_OK;
        }
        if (!skipped.length) return startBatch({ target: t, retryOf: Number(run.id), trigger: 'retry' }, flags);
        // --only carries at most 10,000 codes: past that, the whole retry (the skipped ones are backed up once more)
        const only = left <= 10_000 ? candidates.filter((c) => c.registered && !c.backedUpSince).map((c) => c.code) : undefined;
        if (!flags.json) {
          const retried = only ? `retrying the other ${left}` : `more than 10,000 left: all ${candidates.length} retried`;
          process.stdout.write(`${[`backup run ${run.id}: ${skipped.length} of its failed dossiers need no retry; ${retried}`, ...skippedText].join('\n')}\n`);
        }
        return startBatch({ target: t, retryOf: Number(run.id), only, trigger: 'retry' }, flags, { retried: only ? left : candidates.length, skipped: only ? skipped : [] });
      }),
    );

  backup
    .command('status')
    .description('a backup run: totals, progress, failures with reasons, report (default: the last run)')
    .argument('[run]', 'run number or workflow id')
    // as `backup retry --run` and `patch status --run` take it (drill R2, session 36)
    .option('--run <id>', 'the same as RUN')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (arg: string | undefined, flags: RunFlags) => {
        if (arg !== undefined && flags.run !== undefined && arg !== flags.run) throw new UsageError(`two runs given (${arg.slice(0, 60)} and --run ${flags.run.slice(0, 60)}): give one`);
        const ref = arg ?? flags.run;
        const t = target(flags.target).name;
        const s = await withPools(t, async (pool) => {
          let run = await findRun(pool, t, ref);
          let live: BackupBatchProgress | undefined;
          if (run.state === 'running') {
            // R-BK-1: a run whose workflow Temporal says closed (terminated, timed out) is no longer running: closed here
            // as the next batch's claim would close it, not shown as running with the stale progress of its history
            const status = await withTemporal((c) => workflowStatus(c, run.workflow_id)).catch(() => 'UNKNOWN');
            if (!mayStillRun(status)) {
              // (a run its workflow ended between the two reads is not closed here, and not said to be: drill W, session 40)
              if (await closeAbandonedRun(pool, run.id, status)) process.stderr.write(`nightshift: closed backup run ${run.id} (${run.workflow_id}): its workflow is ${status.toLowerCase()}\n`);
              run = await findRun(pool, t, run.id);
            } else {
              live = await withTemporal((c) => c.workflow.getHandle(run.workflow_id).query(backupBatchProgressQuery)).catch(() => undefined);
            }
          }
          const counts = await runItemCounts(pool, run.id);
          const failures = await runFailures(pool, run.id);
          // R-BK-11: its after-batch prune, from Temporal (its outcome is kept nowhere else); not reached: said on its line
          const prune = await batchPruneOutcome(pool, run, t);
          return { run, counts, account: runAccount(run, counts, failures), failures, live, prune };
        });
        output(flags.json, s, (x) => statusText(x, config().timeZone, t));
      }),
    );

  const settings = backup.command('settings').description('the settings of the backup batch (R-BK-9): local > common > default');
  settings
    .command('show')
    .description('every setting: its value, and whether it comes from this machine, the database or the default')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: RunFlags) => {
        const resolved = await withPools(flags.target, async (pool, target) => ({ ...(await loadBackupSettings(pool, config(), target)), retention: await loadRetention(pool, config()) }));
        output(flags.json, resolved, (r) =>
          [
            ...r.details.map((d) => `${d.key.padEnd(22)} ${settingText(d.value).padEnd(40)} (${d.source}) ${BACKUP_SETTING_LABELS[d.key]}`),
            // R-BK-11: one policy per folder kind, each with its origin
            ...r.retention.details.map((d) => `${`retention ${d.kind}`.padEnd(22)} ${retentionText(d.policy).padEnd(40)} (${d.source}) generations kept in the ${d.kind === 'normal' ? 'backup folder' : `${d.kind}/ folder`}`),
            // R-BK-9: a local value is this machine's environment; a worker elsewhere resolves its own
            ...([...r.details, ...r.retention.details].some((d) => d.source === 'local')
              ? ["(local): this machine's environment, where this command runs; each worker uses its own (set the NIGHTSHIFT_BACKUP_* variables alike on every worker, or not at all)"]
              : []),
            ...r.ignored.map((i) => `warning: the common value of ${i.key} is ignored: ${i.problem}`),
            ...(r.retention.ignored ? [`warning: the common value of retention is ignored: ${r.retention.ignored}`] : []),
          ].join('\n'),
        );
      }),
    );
  settings
    .command('set')
    .description(`set the common value (in the database) of a setting: ${[...BACKUP_SETTING_KEYS, 'retention'].join(', ')}`)
    .argument('<key>')
    .argument('<value>', "the value; 'default' removes the common value; retention: 'last=2,daily=7,weekly=4,monthly=3'")
    .option('--kind <kind>', `retention only: the folder kind it is for (${GENERATION_KINDS.join(', ')}; default: every kind)`)
    .addOption(targetOption())
    .action(
      action(async (key: string, value: string, flags: RunFlags & { kind?: string }) => {
        if (key === 'retention') return setRetention(value, flags);
        if (flags.kind !== undefined) throw new UsageError('--kind is for the retention setting only');
        let parsed: { key: BackupSettingKey; value: unknown };
        const known = (BACKUP_SETTING_KEYS as string[]).includes(key);
        // stored, then printed by `settings show` and used as a folder by the worker: no control character (issue 9)
        if (known && hasControlChars(value)) throw new UsageError(`${key}: ${CONTROL_CHARS_PROBLEM}`);
        if (value === 'default' && known) parsed = { key: key as BackupSettingKey, value: undefined };
        else {
          if (!known) throw new UsageError(`unknown setting "${shownInput(key, 60)}": expected one of ${[...BACKUP_SETTING_KEYS, 'retention'].join(', ')}`);
          try {
            parsed = parseBackupSetting(key, value);
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
        }
        const changed = await withPools(flags.target, async (pool) => {
          if (parsed.key === 'folder' && typeof parsed.value === 'string') await checkBackupFolderHere(pool, target(flags.target).name, parsed.value);
          return setCommonBackupSetting(pool, parsed.key, parsed.value);
        });
        // `default` of a value not set changes nothing, and says so (drill X, session 40: "removed", twice in a row)
        const done = parsed.value !== undefined ? `set to ${settingText(parsed.value)}` : changed ? 'removed' : 'not set';
        process.stdout.write(`${parsed.key}: common value ${done} on target ${target(flags.target).name}${changed ? '' : ': nothing changed'}\n`);
      }),
    );

  const schedule = backup.command('schedule').description('the Temporal Schedule of the batch (overlap policy: skip)');
  schedule
    .command('set')
    .description('create or change the schedule')
    .requiredOption('--cron <expression>', 'minute hour day-of-month month day-of-week, e.g. "0 21 * * *"')
    .option('--timezone <tz>', "IANA time zone of the expression (default: the schedule's own when it exists, else NIGHTSHIFT_TIMEZONE or the system one)")
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (raw: { cron: string; timezone?: string; target?: string; json?: boolean }) => {
        const spec = cronFlags(SCHEDULE_FLAGS.parse(raw), config().timeZone);
        const t = target(raw.target).name;
        const scheduleId = backupScheduleId(t);
        await withTemporal(async (client) => {
          const action = () => scheduledBackupBatchAction(t, config().temporal.taskQueue);
          const set = await setSchedule(client, { scheduleId, ...spec, action, description: `Backup of the modified dossiers of target ${t}`, what: 'the backup batch' });
          output(raw.json, { scheduleId, cron: spec.cron, timezone: set.timezone, created: set.created, warnings: set.warnings }, (v) =>
            [`${v.created ? 'created' : 'updated'} schedule ${v.scheduleId}: "${v.cron}" (${v.timezone}), overlapping runs skipped`, ...warningLines(v.warnings)].join('\n'),
          );
        });
      }),
    );

  const create = 'nightshift backup schedule set --cron ...';
  schedule
    .command('show')
    .description('the schedule: cron, time zone, overlap policy, paused, next and last runs (none: said, exit 0)')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: { target?: string; json?: boolean }) => {
        const scheduleId = backupScheduleId(target(flags.target).name);
        await withTemporal((client) => showSchedule({ scheduleId, create, json: flags.json }, () => describeSchedule(client, client.schedule.getHandle(scheduleId)), scheduleText));
      }),
    );

  const onSchedule = <V>(name: string, description: string, fn: (handle: ReturnType<Client['schedule']['getHandle']>) => Promise<V>, done: string) =>
    schedule
      .command(name)
      .description(description)
      .addOption(targetOption())
      .addOption(jsonOption())
      .action(
        action(async (flags: { target?: string; json?: boolean }) => {
          const scheduleId = backupScheduleId(target(flags.target).name);
          await withTemporal(async (client) => {
            const value = await onExistingSchedule(`no schedule ${scheduleId}: create it with '${create}'`, () => fn(client.schedule.getHandle(scheduleId)));
            output(flags.json, value ?? { scheduleId, done }, (v) => (typeof v === 'string' ? v : value === undefined ? `${scheduleId}: ${done}` : JSON.stringify(v, null, 2)));
          });
        }),
      );

  onSchedule('pause', 'pause the schedule', (h) => h.pause('paused with nightshift backup schedule pause'), 'paused');
  onSchedule('unpause', 'resume the schedule', (h) => h.unpause('resumed with nightshift backup schedule unpause'), 'resumed');
  // the SDK's trigger() defaults to ALLOW_ALL, not the schedule's policy: say SKIP explicitly
  onSchedule('trigger', 'start a run now (skipped if one is running)', (h) => h.trigger('SKIP'), 'triggered (skipped if a run is already running)');
  onSchedule('delete', 'delete the schedule (runs already started go on)', (h) => h.delete(), 'deleted');
}

/** `settings set retention VALUE [--kind K]` (R-BK-9, R-BK-11): the common value, per kind; a bad value changes nothing. */
async function setRetention(value: string, flags: { target?: string; kind?: string }): Promise<void> {
  if (flags.kind !== undefined) kindFlag(flags.kind);
  if (hasControlChars(value)) throw new UsageError(`retention: ${CONTROL_CHARS_PROBLEM}`);
  let policy: ReturnType<typeof parseRetentionPolicy> | undefined;
  if (value.trim() !== 'default') {
    try {
      policy = parseRetentionPolicy(value);
    } catch (err) {
      throw new UsageError(`retention: ${(err as Error).message}`);
    }
  }
  const kinds = flags.kind !== undefined && isGenerationKind(flags.kind) ? [flags.kind] : [...GENERATION_KINDS];
  // read, change one kind, write: under a lock, or two sets of different kinds at once keep only one
  const replaced = await withPools(flags.target, (pool) =>
    withTransaction(pool, async (tx) => {
      await lockRetentionSetting(tx);
      const before: unknown = await readRetentionSetting(tx);
      let next = before;
      for (const k of kinds) next = withKindPolicy(next, k, policy);
      await setRetentionSetting(tx, next as Parameters<typeof setRetentionSetting>[1]);
      return { replaced: flags.kind === undefined ? kindValuesReplaced(before, policy) : [], unchanged: JSON.stringify(next ?? null) === JSON.stringify(before ?? null) };
    }),
  );
  const which = flags.kind ?? 'every kind';
  if (!policy && replaced.unchanged) {
    // `default` where no common value was set: nothing to apply (drill X, session 40: "removed … the prune applies it", twice)
    process.stdout.write(`retention (${which}): common value not set on target ${target(flags.target).name}: nothing changed\n`);
    return;
  }
  process.stdout.write(`retention (${which}): common value ${policy ? `set to ${retentionText(policy)}` : 'removed'} on target ${target(flags.target).name}\n`);
  // every kind at once replaces a kind's own value: said, with the way back, so that a Cloture policy is not lost unseen
  for (const r of replaced.replaced) {
    process.stdout.write(`  replaced ${r.kind}'s own value ${r.was}: set it again with 'nightshift backup settings set retention ${r.was} --kind ${r.kind}'\n`);
  }
  // the prune after the next batch applies it unasked (drill Y: last=3 set at night, everything beyond 3 gone by morning)
  process.stdout.write(`the prune after the next batch applies it: 'nightshift backup prune --dry-run${flags.target ? ` --target ${flags.target}` : ''}' lists what it would delete now\n`);
}

/**
 * The kinds that had a value of their own (the stored common values differed between kinds) which the one now set
 * for every kind replaced (R-BK-11). One value for every kind replaced by another is no news.
 */
function kindValuesReplaced(before: unknown, policy: RetentionPolicy | undefined): { kind: GenerationKind; was: string }[] {
  const stored = commonRetentionSchema.safeParse(before ?? {});
  if (!stored.success) return [];
  const was = GENERATION_KINDS.map((kind) => ({ kind, was: stored.data[kind] ? retentionText(stored.data[kind]) : undefined }));
  if (new Set(was.map((w) => w.was)).size <= 1) return [];
  const now = policy ? retentionText(policy) : undefined;
  // a value several kinds share came from an earlier set for every kind: only a kind set apart is its own value
  const count = (v: string | undefined) => was.filter((w) => w.was === v).length;
  const shared = was.map((w) => w.was).find((v) => count(v) > 1);
  return was.flatMap((w) => (w.was !== undefined && w.was !== now && w.was !== shared ? [{ kind: w.kind, was: w.was }] : []));
}

