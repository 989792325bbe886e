import readline from 'node:readline/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { UsageError } from '../../config/config';
import { DEFAULT_DRAIN_GRACE, WINDOW_TYPES, formatDateTime, gateStateAt } from '../../domain/maintenance';
import {
  durationSchema,
  editFieldProblem,
  emailSchema,
  EXTEND_NOT_LATER,
  extendProblem,
  maintenanceEditSchema,
  maintenanceWindowInputSchema,
  messageSchema,
  parseDuration,
  startInPast,
  MAX_WINDOW_SECONDS,
  START_PAST_TOLERANCE_MS,
  WINDOW_TOO_LONG,
} from '../../domain/maintenance-input';
import { innermostMessage } from '../../domain/failures';
import { failureText, oneLine } from '../../domain/run-details';
import { parseOperatorTime } from '../../domain/operator-time';
import { hasControlChars, shownInput } from '../../domain/text';
import { onlyCodesSchema } from '../../domain/backup-batch';
import { cronHorizonDays, cronTimes, DAY_MS } from '../../domain/cron-occurrences';
import { MAX_FAILURES_FLAG } from '../../domain/patch-input';
import { describeWindow, windowStateWords as stateWords } from '../../domain/maintenance-text';
import { COMPLETED_EARLY, cutoffReachedText, cutoffText, failureReason, mailRetryingText, payloadMaxFailuresText, restoredCodesText, ROLLED_BACK_STATES, windowEndedText, windowNextSteps, windowSummary } from '../../domain/maintenance-details';
import { activeWindow } from '../../store/windows/active-window';
import { recentWindows } from '../../store/windows/recent-windows';
import { lastEndedWindow } from '../../store/windows/last-ended-window';
import { selectionExclusions } from '../../store/dossiers/selection-exclusions';
import { sessionsLeft, type SessionsLeft } from '../../store/windows/sessions-left';
import type { MaintenanceWindowRow } from '../../store/windows/window-row';
import { runsSinceWindow, windowRuns, type LedgerRun } from '../../store/windows/runs-since-window';
import { windowsByIdPrefix } from '../../store/windows/windows-by-id-prefix';
import { runFailures as backupRunFailures } from '../../store/backup/run-failures';
import { runFailures as patchRunFailures } from '../../store/patch/run-failures';
import { recurringWindowAction, startMaintenanceWindow } from '../../starts';
import {
  DEFAULT_ANNOUNCE_AHEAD,
  MAINTENANCE_RECUR_PREFIX,
  RECUR_FLAG_NAMES,
  RECUR_TEMPLATE_START,
  announcementCrons,
  formatSeconds,
  maintenanceRecurScheduleId,
  occurrenceStartMs,
  occurrencesProblem,
  parseRecurScheduleId,
  recurDescription,
  recurNameSchema,
  recurScheduleSchema,
  recurringWindowWorkflowId,
} from '../../domain/maintenance-recur';
import { calendarCron, describeSchedule, scheduleText } from './backup-batch';
import { liveWorkOnTarget } from '../live-work';
import {
  AVAILABLE_PAYLOADS,
  cancelMaintenanceUpdate,
  completeMaintenanceUpdate,
  editMaintenanceUpdate,
  extendMaintenanceUpdate,
  MaintenanceFailure,
  maintenanceStatusQuery,
  maintenanceWorkflowId,
  PAYLOAD_KINDS,
  reopenMaintenanceUpdate,
  type MaintenanceEdit,
  type MaintenancePayload,
  type MaintenanceStatus,
  type MaintenanceWindowInput,
  type PayloadKind,
} from '../../workflows/maintenance-window.api';
import { webUiLink } from './backup';
import { checkPatchDirHere, refuseWhatThePlanRefuses } from '../patch-dir';
import { endWithdrawn, NoAnswer, pollingWorkers, QUERY_MS, UPDATE_ACCEPT_MS, windowCalls, withdrawnWindow, type WindowCalls } from '../window-calls';
import { refuseUnknownCodes } from '../code-hints';
import { EXIT_FAILED, SaidError, action, config, jsonOption, output, parseFlag, target, targetOption, withTemporal, wholeNumberSchema, withPools, wordFlag, zodText } from '../context';
import { dstWarnings, onExistingSchedule, scheduleExists, warningLines } from '../schedules';
import { dstHazardText, dstHazards, localDate } from '../../domain/schedule-dst';

/** nightshift maintenance schedule|list|status|edit|extend|cancel|complete|reopen (R-MW-1 … R-MW-12), recur (R-MW-13) */

/** The operator's time zone: times are typed and shown in it (TZ, checked by the config), stored in UTC. */
const operatorZone = (): string => config().operatorTimeZone;

function shown(d: Date | string | null | undefined): string {
  if (!d) return '-';
  const f = formatDateTime(new Date(d), operatorZone());
  return `${f.date} ${f.time}`;
}

function timeFlag(flag: string, value: string): Date {
  const t = parseOperatorTime(value, operatorZone());
  if (t.problem !== undefined) throw new UsageError(`${flag}: ${t.problem} (a time without Z or an offset is read in ${operatorZone()})`);
  return t.instant;
}

/** `ofWindow`: the flag sets a window's length (--duration, --by), which no spelling may take past 7 days. */
function durationFlag(flag: string, value: string, o: { allowZero?: boolean; ofWindow?: boolean } = {}): number {
  const seconds = parseFlag(flag, durationSchema, value);
  if (!o.allowZero && seconds <= 0) throw new UsageError(`${flag}: the duration must be positive`);
  if (o.ofWindow && seconds > MAX_WINDOW_SECONDS) throw new UsageError(`${flag}: ${WINDOW_TOO_LONG}`);
  return seconds;
}

function notifyFlag(value: string | undefined): string[] {
  if (value === undefined) return [];
  if (value.length > 10_000) throw new UsageError('--notify: too long');
  const list = value.split(',').map((v) => v.trim());
  // a blank entry is a slip (a list cut short, a variable left empty), not "nobody": the window would end unsaid
  if (list.some((a) => a === '')) {
    throw new UsageError(`--notify: expected e-mail addresses separated by commas, got an empty one in "${shownInput(value)}" (to tell nobody, leave --notify out)`);
  }
  return [...new Set(list.map((a) => parseFlag(`--notify (${shownInput(a)})`, emailSchema, a)))];
}

function windowExists(targetName: string, existing?: MaintenanceWindowRow): ApplicationFailure {
  return ApplicationFailure.create({
    type: MaintenanceFailure.WindowExists,
    nonRetryable: true,
    message: existing
      ? `target ${targetName} already has a ${describeWindow(existing, operatorZone())}: cancel it first`
      : `target ${targetName} already has a maintenance window running (workflow ${maintenanceWorkflowId(targetName)}): cancel it first`,
  });
}

/**
 * R-MW-3: starting now cuts service at once; ask on a terminal, demand --yes otherwise. A start less than a minute
 * ahead is asked for the same way, said as what it is (drill G: "now … immediately", then "scheduled").
 */
function confirmImmediateStart(targetName: string, yes: boolean, startsInMs: number): Promise<boolean> {
  const seconds = Math.round(startsInMs / 1000);
  const when = seconds >= 1 ? `Starting in ${seconds} s cuts the service of target ${targetName} with no time to announce it` : `Starting now cuts the service of target ${targetName} immediately`;
  return confirmCut(`${when}: new logins are refused and every open session is told to close.`, yes);
}

/** R-MW-5 as R-MW-3: an early login block already past refuses new logins at once, so it is asked for as a start now is. */
function confirmLoginsBlockedNow(targetName: string, from: string, yes: boolean): Promise<boolean> {
  return confirmCut(`--prevent-logins-from ${from} is already past: new logins to target ${targetName} would be refused at once, before the window starts.`, yes);
}

async function confirmCut(warning: string, yes: boolean): Promise<boolean> {
  if (yes) {
    process.stderr.write(`${warning}\n`);
    return true;
  }
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UsageError(`${warning} Confirm with --yes (no terminal to ask on).`);
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${warning}\nContinue? [y/N] `);
    return /^(y|yes|o|oui)$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

interface ScheduleFlags {
  target?: string;
  start?: string;
  end?: string;
  duration?: string;
  type?: string;
  message?: string;
  payload: string;
  patchDir?: string;
  backupOnly?: string;
  onFailure?: string;
  maxFailures?: string;
  grace?: string;
  cutoff?: string;
  preventLoginsFrom?: string;
  startWhenDrained?: boolean;
  dbDrain?: boolean;
  notify?: string;
  yes?: boolean;
  json?: boolean;
}

const patchDirSchema = z
  .string()
  .trim()
  .min(1, 'expected a directory')
  .max(4096)
  .refine((p) => !hasControlChars(p), 'control characters are not allowed');

/** Turns the flags into a validated workflow input; every refusal is a UsageError (exit 2). */
export function scheduleInput(
  flags: ScheduleFlags,
  nowMs: number,
  o: { messageFlag?: string } = {},
): { input: MaintenanceWindowInput; startsNow: boolean; blocksLoginsNow: boolean } {
  const t = target(flags.target);
  if (!flags.type) throw new UsageError(`--type is required: ${WINDOW_TYPES.join(' or ')}`);
  const type = wordFlag('--type', WINDOW_TYPES, flags.type);
  const kind = wordFlag('--payload', PAYLOAD_KINDS, flags.payload);
  const onFailure = flags.onFailure === undefined ? undefined : wordFlag('--on-failure', ['rollback'] as const, flags.onFailure);
  const startsNow = flags.start === undefined || flags.start.trim().toLowerCase() === 'now';
  const start = startsNow ? new Date(nowMs) : timeFlag('--start', flags.start!);
  if (startInPast(start.toISOString(), nowMs)) throw new UsageError(`--start: ${shown(start)} is in the past (now is ${shown(new Date(nowMs))}); use --start now`);
  if ((flags.end === undefined) === (flags.duration === undefined)) throw new UsageError('give either --end or --duration (one of them)');
  const end = flags.end !== undefined ? timeFlag('--end', flags.end) : new Date(start.getTime() + durationFlag('--duration', flags.duration!, { ofWindow: true }) * 1000);
  if (end.getTime() <= start.getTime()) throw new UsageError('--end: the end must be after the start (the duration must be positive)');
  if (!AVAILABLE_PAYLOADS.includes(kind)) {
    throw new UsageError(`--payload ${kind}: not available yet (only ${AVAILABLE_PAYLOADS.join(', ')} for now)`);
  }
  const patching = kind === 'patch' || kind === 'backup+patch';
  if (patching && !flags.patchDir) throw new UsageError(`--payload ${kind} needs --patch-dir DIR (the directory of patch packages)`);
  if (flags.patchDir !== undefined && !patching) throw new UsageError('--patch-dir goes with --payload patch or backup+patch');
  if (flags.backupOnly !== undefined && kind !== 'backup') throw new UsageError('--backup-only goes with --payload backup');
  if (onFailure !== undefined && kind !== 'backup+patch') throw new UsageError('--on-failure rollback goes with --payload backup+patch (its restore points are what a rollback restores, R-PI-11)');
  if (flags.maxFailures !== undefined && !patching) throw new UsageError('--max-failures goes with --payload patch or backup+patch (the patch run stops starting dossiers past it)');
  const maxFailures = flags.maxFailures === undefined ? undefined : parseFlag('--max-failures', MAX_FAILURES_FLAG, flags.maxFailures);
  let payload: MaintenancePayload;
  if (patching) payload = { kind, manifest: path.resolve(parseFlag('--patch-dir', patchDirSchema, flags.patchDir)), ...(maxFailures && { maxFailures }) };
  else if (kind === 'backup') {
    payload = flags.backupOnly === undefined ? { kind: 'backup' } : { kind: 'backup', dossiers: parseFlag('--backup-only', onlyCodesSchema, flags.backupOnly) };
  } else payload = { kind: 'none' };
  const windowSeconds = (end.getTime() - start.getTime()) / 1000;
  const graceSeconds =
    flags.grace !== undefined ? durationFlag('--grace', flags.grace, { allowZero: true }) : Math.min(parseDuration(DEFAULT_DRAIN_GRACE)!, Math.floor(windowSeconds));
  if (graceSeconds > windowSeconds) throw new UsageError(`--grace: the drain grace (${flags.grace}) is longer than the window`);
  const cutoffSeconds = cutoffFlag(flags.cutoff, kind, windowSeconds, graceSeconds, flags.startWhenDrained === true);
  const preventLoginsFrom = flags.preventLoginsFrom !== undefined ? timeFlag('--prevent-logins-from', flags.preventLoginsFrom) : undefined;
  if (preventLoginsFrom && preventLoginsFrom.getTime() > start.getTime()) throw new UsageError('--prevent-logins-from must be at or before the start');
  const message = flags.message !== undefined ? parseFlag(o.messageFlag ?? '--message', messageSchema, flags.message) : undefined;
  const input: MaintenanceWindowInput = {
    target: t.name,
    type,
    startsAt: start.toISOString(),
    endsAt: end.toISOString(),
    preventLoginsFrom: preventLoginsFrom?.toISOString(),
    message,
    payload,
    graceSeconds,
    ...(cutoffSeconds !== undefined && { cutoffSeconds }),
    ...(onFailure ? { onFailure } : {}),
    startWhenDrained: flags.startWhenDrained === true,
    dbDrain: flags.dbDrain === true,
    notify: notifyFlag(flags.notify),
    displayTimeZone: operatorZone(),
  };
  if (input.preventLoginsFrom === undefined) delete input.preventLoginsFrom;
  if (input.message === undefined) delete input.message;
  const parsed = maintenanceWindowInputSchema.safeParse(input);
  // the schema's fields named by the flags that set them
  const names = { endsAt: flags.end !== undefined ? '--end' : '--duration', startsAt: '--start', message: o.messageFlag ?? '--message', notify: '--notify', graceSeconds: '--grace', onFailure: '--on-failure', cutoffSeconds: '--cutoff' };
  if (!parsed.success) throw new UsageError(zodText(parsed.error, names));
  return {
    input,
    startsNow: startsNow || start.getTime() <= nowMs + START_PAST_TOLERANCE_MS,
    blocksLoginsNow: preventLoginsFrom !== undefined && preventLoginsFrom.getTime() <= nowMs,
  };
}

/**
 * SSM's cutoff (--cutoff 30m): the payload is not started with less than that left before the planned end. Shorter than
 * the window, and than what the drain grace leaves of it (unless the payload may start once drained): a cutoff the
 * payload could never pass is a slip. Work by hand has no start to cut off.
 */
function cutoffFlag(value: string | undefined, kind: PayloadKind, windowSeconds: number, graceSeconds: number, startWhenDrained: boolean): number | undefined {
  if (value === undefined) return undefined;
  if (kind === 'none') throw new UsageError('--cutoff goes with --payload backup, patch or backup+patch (work by hand has no payload to leave unstarted)');
  const seconds = durationFlag('--cutoff', value, { ofWindow: true });
  if (seconds >= windowSeconds) throw new UsageError(`--cutoff: the cutoff (${cutoffText(seconds)}) must be shorter than the window (${cutoffText(Math.floor(windowSeconds))})`);
  if (!startWhenDrained && windowSeconds - graceSeconds < seconds) {
    throw new UsageError(
      `--cutoff: the payload would start after the drain grace (${cutoffText(graceSeconds)}) with ${cutoffText(Math.floor(windowSeconds - graceSeconds))} left, less than the cutoff (${cutoffText(seconds)}): it would never start; shorten --cutoff or --grace`,
    );
  }
  return seconds;
}

/** Tells two windows of a target apart in the Web UI's list (type, target, start-end, payload, reason). */
export function staticSummary(input: MaintenanceWindowInput, zone = operatorZone()): string {
  return windowSummary(input, zone);
}

/** How long `schedule` waits for a worker to pick a window up before saying it is withdrawn (the window keeps to it). */
const PICKUP_SECONDS = 25;

const withdrawnReason = (seconds: number) => `withdrawn: no worker picked this window up within ${seconds} s of its scheduling ('nightshift maintenance schedule' said so and gave up on it); nothing was done`;

/**
 * Waits until the workflow has inserted its row (or failed: its error says why, e.g. R-MW-2); a window that starts now,
 * until it has left `scheduled` too (the row is written a moment before the start: drill S saw a start now printed as
 * "scheduled" on a loaded machine). Past `startWaitMs` for that, the row as it is.
 */
async function waitForRow(handle: WorkflowHandle, o: { startsNow: boolean; timeoutMs?: number; startWaitMs?: number }): Promise<MaintenanceStatus> {
  // past the window's own pickup limit (PICKUP_SECONDS, from its start): a worker that picks it up later withdraws it
  const deadline = Date.now() + (o.timeoutMs ?? (PICKUP_SECONDS + 5) * 1000);
  let rowSince: number | undefined;
  for (;;) {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') {
      await handle.result();
      return handle.query(maintenanceStatusQuery);
    }
    const status = await handle.query(maintenanceStatusQuery).catch(() => undefined);
    if (status?.windowId) {
      rowSince ??= Date.now();
      if (!o.startsNow || status.state !== 'scheduled' || Date.now() - rowSince > (o.startWaitMs ?? 10_000)) return status;
    }
    if (Date.now() > deadline) {
      // picked up in time (a task started), its row not written yet (a loaded machine): the workflow says how it ends
      if (!(await pickedUp(handle))) {
        // its workflow ended, not left waiting: its id would refuse the next schedule (R-MW-2) while status shows no window
        await endWithdrawn(handle, withdrawnReason(PICKUP_SECONDS));
        throw new SaidError(
          `no worker picked the window up within ${PICKUP_SECONDS} s: is a worker running on task queue ${config().temporal.taskQueue}? ` +
            `The window is withdrawn: nothing was done, and its workflow is ended (${handle.workflowId} in the Temporal Web UI says why); ` +
            'once a worker runs, schedule it again',
        );
      }
      if (Date.now() > deadline + 60_000) throw new Error(`a worker picked the window up but it has not recorded itself within a minute: see ${handle.workflowId} in the Temporal Web UI`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether a worker has started a task of the workflow (its history has a WorkflowTaskStarted event). */
async function pickedUp(handle: WorkflowHandle): Promise<boolean> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).some((e) => e.workflowTaskStartedEventAttributes);
}

/** A window that ended (completed, cancelled) says when, beside its planned times: its phase change's workflow time. */
function endedText(s: MaintenanceStatus): string {
  const ended = windowEndedText(s, operatorZone());
  return ended ? `; ${ended}` : '';
}

/**
 * The workflow's view of a window. `sessions`, when given, is the database's count (one query, also
 * behind the head line of `status`); without it the workflow's last look is shown as such.
 */
export function statusText(s: MaintenanceStatus, sessions?: SessionsLeft, nowMs = Date.now()): string {
  const lines = [
    `${s.type} maintenance on ${s.target}: ${s.phase === 'failed' ? 'FAILED, closed until reopen' : stateWords(s.state)} (phase ${s.phase})`,
    `  from ${shown(s.startsAt)} to ${shown(s.endsAt)} (${operatorZone()})${endedText(s)}`,
  ];
  // past its planned end and still closed (a payload runs to its end): said, not left to the times above (drill W)
  const over = Math.floor((nowMs - Date.parse(s.endsAt)) / 60_000);
  if (s.state === 'in_progress' && s.phase !== 'failed' && over >= 1) {
    lines.push(`  OVERRUNNING: its planned end passed ${over} min ago; access comes back once the work in it has ended ('nightshift maintenance extend' gives users a new end)`);
  }
  const cutoff = s.cutoffSeconds !== undefined && s.payload.kind !== 'none' ? `, cutoff ${cutoffText(s.cutoffSeconds)} (not started with less left before the end)` : '';
  const maxFailures = (s.payload.kind === 'patch' || s.payload.kind === 'backup+patch') && s.payload.maxFailures ? `, max failures ${payloadMaxFailuresText(s.payload.maxFailures)}` : '';
  lines.push(
    `  payload ${s.payload.kind}, drain grace ${s.graceSeconds} s${cutoff}${s.startWhenDrained ? ', starts when drained' : ''}${s.dbDrain ? ', database drain' : ''}${maxFailures}`,
  );
  if (s.cutoffReached) lines.push(`  ${cutoffReachedText(s.cutoffReached)}: access given back without it; schedule a new window for it`);
  if (s.overrun?.mailed) {
    const during = s.overrun.during === 'closing_sessions' ? 'its sessions were being closed (the payload not started yet)' : 'the payload ran';
    lines.push(`  the planned end passed at ${shown(s.overrun.at)} while ${during}: --notify was told`);
  }
  if (s.preventLoginsFrom) lines.push(`  new logins refused from ${shown(s.preventLoginsFrom)}`);
  // what the users see (the gate's notice), its lines indented under it; control characters were refused at the edges
  if (s.message) lines.push(`  message to users: ${s.message.replace(/\n/g, '\n    ')}`);
  // the database now, then what the window last saw (what the Web UI's details show: R-OP-1), each said as such
  if (sessions) {
    lines.push(
      // an order is written for every session at once; each learns it from its next heartbeat (drill, session 38: the
      // orders written were said "told")
      `  sessions now: ${sessions.live} open, ${sessions.pending} of them ordered to close (${sessions.told} told by a heartbeat answer) and not gone yet; ${s.forcedSessions} closed by force` +
        (s.openSessions !== null ? ` (the window's last look, as in the Web UI: ${s.openSessions} open, ${s.sessionsToClose ?? 0} ordered to close)` : ''),
    );
  }
  else if (s.openSessions !== null) lines.push(`  open sessions at the window's last look: ${s.openSessions} (${s.sessionsToClose ?? 0} ordered to close, ${s.forcedSessions} forced)`);
  if (s.payloadRun) lines.push(`  payload: ${s.payloadRun.kind} ${s.payloadRun.workflowId}${s.payloadRun.state ? ` (${s.payloadRun.state})` : ''}`);
  if (s.rollbackRun) lines.push(`  on failure: rollback ${s.rollbackRun.workflowId}${s.rollbackRun.state ? ` (${s.rollbackRun.state})` : ''}${s.rollbackRun.restored !== undefined ? `, ${s.rollbackRun.restored} dossier(s) rolled back${restoredCodesText(s.rollbackRun, false)}` : ''}`);
  for (const r of s.linkedRuns ?? []) {
    const state = r.state ? ` (${r.state}${r.notDone ? `, ${r.notDone} dossier(s) not done` : ''}${r.notStarted ? `, ${r.notStarted} not started (--max-failures stopped it)` : ''})` : '';
    lines.push(`  started by hand in the window: ${r.kind} ${r.workflowId}${state}`);
  }
  // R-MW-12: a failed window since cancelled has access back: its failure is history, with no advice to reopen
  const cancelledAfterFailure = s.state === 'cancelled' && !!s.failure;
  if (s.failure) {
    lines.push(cancelledAfterFailure ? `  cancelled after a failure: ${failureReason(s.failure)}` : `  FAILED: ${s.failure}`);
    const kept = s.failures ?? [];
    const shownFailures = kept.slice(-10);
    const total = Math.max(s.failuresTotal ?? kept.length, kept.length);
    for (const f of shownFailures) lines.push(`    ${f.code}: ${f.error}`);
    if (total > shownFailures.length) lines.push(`    (the last ${shownFailures.length} of ${total}; the payload run's status lists them all)`);
  }
  if (s.reopenedAfter) lines.push(`  reopened after a failure (R-MW-10): ${s.reopenedAfter}`);
  if (s.endedAtEnd) lines.push('  ended by its end time (R-MW-9): nobody said `complete`; check the work by hand is done');
  if (s.completedEarly) lines.push(`  ${COMPLETED_EARLY} (R-MW-7)`);
  // a cancelled window's steps from the rules of now: one cancelled before they knew it says no reopen either
  const next = cancelledAfterFailure ? windowNextSteps(s) : (s.nextSteps ?? (s.failure ? [{ text: 'fix it, then', command: `nightshift maintenance reopen --target ${s.target}` }] : []));
  for (const n of next) lines.push(`  ${n.text}: ${n.command}`);
  if (s.notify.length) lines.push(`  notify: ${s.notify.join(', ')}`);
  for (const m of s.mailsRetrying ?? []) lines.push(`  ${mailRetryingText(m)}`);
  return lines.join('\n');
}

/**
 * A window's payload checked on this host before the window (or a recurring window's schedule) exists: the packages
 * as `patch integrate` checks them, --backup-only codes as `backup run --only` does. Not found out once the target is
 * closed.
 */
async function checkPayloadHere(input: MaintenanceWindowInput): Promise<void> {
  if ((input.payload.kind === 'patch' || input.payload.kind === 'backup+patch') && input.payload.manifest) {
    await checkPatchDirHere(input.target, input.payload.manifest);
    // R-PI-8: a package changed since it was integrated would be refused by the window's run once logins are cut (drill
    // A, session 35); the supervisor's own state is the window's to judge when it starts (an earlier window may fill a gap)
    const nothing = await refuseWhatThePlanRefuses(input.target, input.payload.manifest, undefined, { refuseSupervisor: false, nothing: 'scheduled' });
    // a folder every dossier already has: logins would be cut for a patch step that integrates nothing (the wrong folder,
    // or one a window already took); said, not refused (the window may be wanted all the same, and the folder may change)
    if (nothing) {
      const packages = nothing.packages === 1 ? 'the package' : `the ${nothing.packages} packages`;
      process.stderr.write(
        `warning: every dossier (${nothing.dossiers}) of ${input.target} already has ${packages} of ${input.payload.manifest} (highest patch ${nothing.lastPatch}), ` +
          `none below the supervisor ${nothing.supervisor.code}'s level ${nothing.supervisor.level}: the window's patch step integrates nothing unless the folder changes before it runs\n`,
      );
    }
  }
  const only = input.payload.kind === 'backup' ? input.payload.dossiers : undefined;
  if (only?.length) {
    await withPools(input.target, (pool) => refuseUnknownCodes(pool, input.target, only, { flag: '--backup-only', nothing: 'scheduled' }));
    // R-BK-2 leaves them out of the nightly selection; named, the window's batch takes them (if changed), as `backup run --only` says
    const { shown: despite, total } = await withPools(input.target, (pool) => selectionExclusions(pool, only));
    for (const d of despite) process.stderr.write(`${d.code} is ${d.why}: the nightly selection leaves it out (R-BK-2); the window's backup takes it if it changed since its last backup, since --backup-only names it\n`);
    if (total > despite.length) process.stderr.write(`and ${total - despite.length} more dossier(s) named that the nightly selection leaves out, taken the same way\n`);
  }
}

/**
 * The runs whose workflows still run on the target and would make a window's payload refuse to start (R-BK-1: one batch
 * at a time; R-PI-2: no patch work beside a batch, no patch run beside patch work or a batch), in words.
 */
async function workInTheWay(targetName: string): Promise<string[]> {
  const live = await withTemporal((client) => withPools(targetName, (pool) => liveWorkOnTarget(pool, client)));
  return live.map((w) => `${w.kind} ${w.id} (${w.workflowId})`);
}

async function schedule(flags: ScheduleFlags): Promise<number | void> {
  const { input, startsNow, blocksLoginsNow } = scheduleInput(flags, Date.now());
  await checkPayloadHere(input);
  // R-MW-2 before R-MW-3: a schedule refused for an existing window warns of no cut (the start's own refusal is a race)
  const existing = await withPools(input.target, (pool) => activeWindow(pool));
  if (existing) throw windowExists(input.target, existing);
  // a payload that a running batch or patch run would refuse: a window started now would cut service, then fail at
  // once and stay closed until reopen (scale drill); refused before anything, or said for a later start
  if (input.payload.kind !== 'none') {
    const busy = await workInTheWay(input.target);
    if (busy.length && startsNow) {
      throw new SaidError(
        `${busy.join(', ')} ${busy.length > 1 ? 'are' : 'is'} running on ${input.target}: the window's ${input.payload.kind} payload would be refused (R-BK-1, R-PI-2) ` +
          `and the window fail, the target closed until reopen; nothing scheduled. Start the window once ${busy.length > 1 ? 'they have' : 'it has'} ended, or give a later --start`,
      );
    }
    for (const b of busy) process.stderr.write(`warning: ${b} is running on ${input.target} now: if it still runs at the window's start, the ${input.payload.kind} payload is refused and the window fails (closed until reopen)\n`);
  }
  for (const w of await withTemporal((client) => occurrencesRefusedBy(client, input.target, Date.parse(input.endsAt)))) process.stderr.write(`warning: ${w}\n`);
  // a start now already refuses logins: its own question says so
  const confirmed = startsNow
    ? await confirmImmediateStart(input.target, flags.yes === true, Date.parse(input.startsAt) - Date.now())
    : !blocksLoginsNow || (await confirmLoginsBlockedNow(input.target, flags.preventLoginsFrom!, flags.yes === true));
  if (!confirmed) {
    process.stderr.write('nothing scheduled\n');
    return EXIT_FAILED;
  }
  const { status, url } = await withTemporal(async (client) => {
    let handle: Awaited<ReturnType<typeof startMaintenanceWindow>>;
    const startIt = () => startMaintenanceWindow(client, { ...input, pickupWithinSeconds: PICKUP_SECONDS }, { taskQueue: config().temporal.taskQueue, summary: staticSummary(input) });
    try {
      handle = await startIt();
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // a window withdrawn earlier whose workflow still waits (a schedule interrupted in its wait, an older release):
      // nothing of it was done, so it is ended and this one takes its place
      const old = client.workflow.getHandle(maintenanceWorkflowId(input.target));
      const withdrawn = await withdrawnWindow(old);
      if (!withdrawn) throw windowExists(input.target);
      await endWithdrawn(old, `${withdrawnReason(withdrawn.pickupWithinSeconds)}; ended by a new 'nightshift maintenance schedule'`);
      try {
        handle = await startIt();
      } catch (again) {
        if (again instanceof WorkflowExecutionAlreadyStartedError) throw windowExists(input.target);
        throw again;
      }
    }
    return { status: await waitForRow(handle, { startsNow }), url: webUiLink(handle.workflowId, handle.firstExecutionRunId) };
  });
  // the window's workflow in the Web UI, as every command that starts work prints it
  // as `backup run --only`: a dossier named that has not changed since its last backup is not taken (said now)
  const onlyNote = input.payload.kind === 'backup' && input.payload.dossiers?.length ? '\n--backup-only takes those of the dossiers named that changed since their last backup' : '';
  // a start now is under way when the row is written: said as started, not as scheduled
  output(flags.json, { ...status, url }, (s) => `${s.state === 'scheduled' ? 'scheduled' : 'started'}: ${statusText(s)}${onlyNote}\nfollow it in the Temporal Web UI: ${s.url}`);
}

const LIST_LIMIT_MAX = 1000;
const listLimitSchema = wholeNumberSchema(1, LIST_LIMIT_MAX, `expected 1-${LIST_LIMIT_MAX}`);

async function list(flags: { target?: string; json?: boolean; limit?: string }): Promise<void> {
  const limit = flags.limit === undefined ? 20 : parseFlag('--limit', listLimitSchema, flags.limit);
  const names = flags.target !== undefined ? [target(flags.target).name] : config().targets.map((t) => t.name);
  const all: (MaintenanceWindowRow & { target: string })[] = [];
  for (const name of names) {
    for (const row of await withPools(name, (pool) => recentWindows(pool, limit))) all.push({ target: name, ...row });
  }
  output(flags.json, all, (rows) =>
    rows.length
      ? [
          `${'id'.padEnd(8)} ${'target'.padEnd(12)} ${'state'.padEnd(11)} ${'phase'.padEnd(16)} ${'type'.padEnd(10)} from → to (${operatorZone()}), when it ended: what did not go well`,
          ...rows.map((w) => `${w.id.slice(0, 8)} ${w.target.padEnd(12)} ${(w.phase === 'failed' ? 'FAILED' : stateWords(w.state)).padEnd(11)} ${w.phase.padEnd(16)} ${w.type.padEnd(10)} ${shown(w.startsAt)} → ${shown(w.endsAt)}${w.cutoffSeconds !== null ? ` (cutoff ${cutoffText(w.cutoffSeconds)})` : ''}${w.finishedAt ? `, ended ${shown(w.finishedAt)}` : ''}${w.outcome ? `: ${w.outcome}` : ''}`),
          `'nightshift maintenance show ID' tells one window (the first characters of its id are enough)${rows.length >= limit ? `; --limit N shows more (${limit} per target shown)` : ''}`,
        ].join('\n')
      : 'no maintenance windows',
  );
}

const UUID_SHAPE = '00000000-0000-0000-0000-000000000000';
const windowIdPrefixSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[0-9a-f][0-9a-f-]{3,35}$/, "expected a window id, or its first 4 characters or more, as 'nightshift maintenance list' prints it")
  // its dashes where a uuid has them (8-4-4-4-12)
  .refine((v) => [...v].every((c, i) => (c === '-') === (UUID_SHAPE[i] === '-')), "expected a window id as 'nightshift maintenance list' prints it (8-4-4-4-12 hex digits), or its first characters");

/**
 * `maintenance show ID` (SSM's get-maintenance-window-execution): one window of the database's record, current or past:
 * its times, how it ended and what did not go well, and the backup / patch / rollback runs it ran (its payload, or
 * started by hand while it was open), each with what it left not done.
 */
async function show(idArg: string, flags: { target?: string; json?: boolean }): Promise<void> {
  const prefix = parseFlag('ID', windowIdPrefixSchema, idArg);
  const names = flags.target !== undefined ? [target(flags.target).name] : config().targets.map((t) => t.name);
  const found: { target: string; row: MaintenanceWindowRow }[] = [];
  for (const name of names) for (const row of await withPools(name, (pool) => windowsByIdPrefix(pool, prefix))) found.push({ target: name, row });
  if (!found.length) throw new UsageError(`no maintenance window ${prefix} in ${names.length > 1 ? 'any target' : `target ${names[0]}`}: 'nightshift maintenance list' shows their ids; nothing shown`);
  if (found.length > 1) throw new UsageError(`${prefix} is the start of ${found.length > 2 ? 'several' : 'two'} window ids (${found.map((f) => f.row.id).join(', ')}): give more of it`);
  const { target: t, row: w } = found[0]!;
  const runs = await withPools(t, (pool) => windowRuns(pool, w.id, 50));
  output(flags.json, { target: t, ...w, runs }, (v) =>
    [
      `maintenance window ${v.id} on ${v.target} (workflow ${v.workflowId}): ${v.phase === 'failed' ? 'FAILED, closed until reopen' : stateWords(v.state)} (phase ${v.phase}), ${v.type}; times in ${operatorZone()}`,
      `  planned ${shown(v.startsAt)} → ${shown(v.endsAt)}${v.cutoffSeconds !== null ? `, cutoff ${cutoffText(v.cutoffSeconds)}` : ''}${v.preventLoginsFrom ? `, logins refused from ${shown(v.preventLoginsFrom)}` : ''}`,
      `  scheduled ${shown(v.createdAt)}, ${v.finishedAt ? `ended ${shown(v.finishedAt)}` : 'not ended'}${v.outcome ? `: ${v.outcome}` : v.finishedAt ? ': nothing went wrong' : ''}`,
      ...(v.message ? [`  message to users: ${v.message.replace(/\n/g, '\n    ')}`] : []),
      v.runs.length ? `  runs while it was open (${v.runs.length}):` : '  no backup, patch or rollback run while it was open',
      ...v.runs.map(
        (r) =>
          `    ${r.kind} run ${r.id} (${r.workflowId}) started ${shown(r.startedAt)}: ${r.state}` +
          (r.notDone ? `, ${r.notDone} dossier(s) not done` : '') +
          (r.notStarted ? `, ${r.notStarted} not started` : ''),
      ),
    ].join('\n'),
  );
}

async function queryStatus(targetName: string, workflowId = maintenanceWorkflowId(targetName)): Promise<MaintenanceStatus | null> {
  // one deadline for the connection and the query together
  const deadline = Date.now() + QUERY_MS;
  try {
    return await withTemporal((client) => client.withDeadline(deadline, () => client.workflow.getHandle(workflowId).query(maintenanceStatusQuery)));
  } catch {
    return null;
  }
}

/** A run of a failed window that left dossiers not done, as the ledger has it: its failures, the last shown first (R-OP-1). */
interface RunNotDone {
  run: LedgerRun;
  failures: { code: string; error: string }[];
}

/** What the database knows of a failed window's runs (payload or started by hand): those partial or failed, their dossiers in error. */
async function runsNotDone(targetName: string, windowId: string): Promise<{ runs: RunNotDone[]; rollback: LedgerRun | undefined }> {
  return withPools(targetName, async (pool) => {
    const since = await runsSinceWindow(pool, windowId);
    const runs = since.filter((r) => r.kind !== 'rollback' && (r.state === 'partial' || r.state === 'failed'));
    // the payload's rollback (--on-failure rollback): its failed dossiers back, the window's failure then its post-checks'
    const rollback = since.find((r) => r.kind === 'rollback');
    const withFailures = await Promise.all(
      runs.map(async (run) => ({
        run,
        failures:
          run.kind === 'backup'
            ? (await backupRunFailures(pool, run.id)).map((f) => ({ code: f.code, error: failureText(f.status, f.error) }))
            : (await patchRunFailures(pool, Number(run.id), null)).failures,
      })),
    );
    return { runs: withFailures, rollback };
  });
}

/**
 * A window whose workflow did not answer (no worker), from its row: a failed one says FAILED (not "in progress"), the
 * failure the window wrote, its runs' dossiers in error and the next commands, as when the workflow answers (R-OP-1).
 */
export function rowStatusText(w: MaintenanceWindowRow, targetName: string, runs: RunNotDone[], rollback?: LedgerRun): string {
  if (w.phase !== 'failed') return `${describeWindow(w, operatorZone())} (phase ${w.phase}; workflow not reachable)`;
  const lines = [
    `${w.type} maintenance on ${targetName}: FAILED, closed until reopen (phase failed; workflow ${w.workflowId} not reachable: what the database knows)`,
    `  from ${shown(w.startsAt)} to ${shown(w.endsAt)} (${operatorZone()})`,
    // the window writes its failure with the phase (windows failed before it did have none)
    `  FAILED: ${w.outcome ? w.outcome.replace(/^failed: /, '') : 'its reason is in the workflow (no worker answered)'}`,
  ];
  for (const { run, failures } of runs) {
    const notStarted = run.notStarted ? `, ${run.notStarted} not started (--max-failures stopped it)` : '';
    lines.push(`  ${run.kind} run ${run.id} (${run.workflowId}): ${run.state}${run.notDone ? `, ${run.notDone} dossier(s) not done` : ''}${notStarted}`);
    const shownFailures = failures.slice(0, 10);
    for (const f of shownFailures) lines.push(`    ${f.code}: ${oneLine(f.error)}`);
    if (failures.length > shownFailures.length) lines.push(`    (the first ${shownFailures.length} of ${failures.length}; the run's status lists them all)`);
  }
  if (rollback) {
    lines.push(`  rollback run ${rollback.id} (${rollback.workflowId}): ${rollback.state}${ROLLED_BACK_STATES.includes(rollback.state) ? ": the payload's failed dossiers back to their restore point (R-PI-11)" : ''}`);
  }
  // the steps the workflow gives a failed window, its payload being the first run left with dossiers not done
  const first = runs[0]?.run;
  const payloadRun = first && { kind: first.kind, workflowId: first.workflowId, runId: first.id, state: first.state, ...(first.notStarted && { notStarted: first.notStarted }) };
  const rollbackRun = rollback && { kind: rollback.kind, workflowId: rollback.workflowId, runId: rollback.id, state: rollback.state };
  const next = windowNextSteps({
    target: targetName,
    workflowId: w.workflowId,
    type: w.type,
    state: w.state,
    phase: 'failed',
    startsAt: '',
    endsAt: '',
    payload: { kind: 'none' },
    openSessions: null,
    sessionsToClose: null,
    forcedSessions: 0,
    payloadRun,
    ...(rollbackRun && { rollbackRun }),
  });
  next.push({ text: 'or give access back without the checks (R-MW-12)', command: `nightshift maintenance cancel --target ${targetName}` });
  for (const n of next) lines.push(`  ${n.text}: ${n.command}`);
  lines.push('  (reopen and cancel are answered by the window\'s workflow: a worker must be running)');
  return lines.join('\n');
}

async function status(flags: { target?: string; json?: boolean }): Promise<void> {
  const t = target(flags.target);
  const { window, sessions, last } = await withPools(t.name, async (pool) => {
    const active = await activeWindow(pool);
    // with none active, the one that ended last (not the latest planned start) is named: what happened to it is one command away
    return { window: active, sessions: await sessionsLeft(pool), last: active ? undefined : await lastEndedWindow(pool) };
  });
  // a query waits for a worker (none runs: the dev process stopped, say): each is bounded by QUERY_MS
  const workflow = window ? await queryStatus(t.name, window.workflowId) : null;
  const { runs: notDone, rollback } = window && !workflow && window.phase === 'failed' ? await runsNotDone(t.name, window.id) : { runs: [], rollback: undefined };
  // the last window's own account (a failure, a reopen, its payload's failures), while Temporal keeps its history and a
  // worker answers
  const lastWorkflow = last ? await queryStatus(t.name, last.workflowId) : null;
  const value = {
    target: t.name,
    gateState: gateStateAt(window ?? null, new Date()),
    liveSessions: sessions.live,
    sessionsToClose: sessions.pending,
    window: window ?? null,
    workflow,
    ...(notDone.length ? { runsNotDone: notDone } : {}),
    ...(last ? { lastWindow: last, lastWorkflow } : {}),
  };
  output(flags.json, value, (v) => {
    const head = `target ${v.target}: ${v.gateState}, ${v.liveSessions} open session(s)`;
    if (!v.window) {
      if (last && lastWorkflow) return `${head}\nno scheduled or in-progress maintenance window; the last one:\n${statusText(lastWorkflow)}`;
      // its record says the rest (`maintenance show`); the Web UI only where the deployment has one (drill C, session 37)
      const ui = (w: MaintenanceWindowRow) => (config().temporal.uiUrl === null ? '' : `, or the workflow ${w.workflowId} in the Temporal Web UI`);
      const ended = last
        ? `\nthe last one: ${describeWindow(last, operatorZone())} (phase ${last.phase}); its outcome: 'nightshift maintenance show ${last.id.slice(0, 8)}'${ui(last)} (no worker answered for its workflow)`
        : '';
      return `${head}\nno scheduled or in-progress maintenance window${ended}`;
    }
    if (!v.workflow) return `${head}\n${rowStatusText(v.window, v.target, notDone, rollback)}`;
    return `${head}\n${statusText(v.workflow, sessions)}`;
  });
}

/** The open window of a target as the gate acts on it (its row), in words: what stands while no worker answers. */
function standsText(row: MaintenanceWindowRow | undefined): string {
  if (!row) return 'the window is not recorded yet (no worker has picked it up): the gate knows nothing of it until a worker does';
  if (row.phase === 'failed') return `the window failed: the target stays closed until reopen (from ${shown(row.startsAt)})`;
  if (row.state === 'in_progress') return `the window is in progress: the gate refuses logins until it ends (planned end ${shown(row.endsAt)})`;
  const from = row.preventLoginsFrom && row.preventLoginsFrom.getTime() < row.startsAt.getTime() ? row.preventLoginsFrom : row.startsAt;
  return `the window stands: the gate refuses logins from ${shown(from)} as scheduled (until ${shown(row.endsAt)})`;
}

/** The operator's command, said as what was not done: `cancelled` → "not cancelled". */
const commandOf: Record<string, string> = { edited: 'edit', extended: 'extend', cancelled: 'cancel', completed: 'complete', reopened: 'reopen' };

/**
 * Runs one operator update on the target's open window. Nothing is sent while no worker polls the window's task queue
 * (the Update would wait unseen, then apply whenever a worker comes back, drill of the tester); an Update no worker
 * accepts within UPDATE_ACCEPT_MS is said as such. A missing workflow is said plainly.
 */
async function update(targetName: string | undefined, fn: (w: WindowCalls, now: MaintenanceStatus) => Promise<MaintenanceStatus>, json?: boolean, verb = 'updated'): Promise<number | void> {
  const t = target(targetName);
  // an occurrence of a recurring window has an id of its own (R-MW-13): the open window's row names it
  const row = (await withPools(t.name, (pool) => activeWindow(pool))) ?? undefined;
  const workflowId = row?.workflowId ?? maintenanceWorkflowId(t.name);
  const command = `nightshift maintenance ${commandOf[verb] ?? verb} --target ${t.name}`;
  const none = (err?: unknown) => new SaidError(`no scheduled or in-progress maintenance window on target ${t.name} (see 'nightshift maintenance status')`, { cause: err });
  const s = await withTemporal(async (client): Promise<MaintenanceStatus | 'withdrawn'> => {
    const handle = client.workflow.getHandle(workflowId);
    let described: WorkflowExecutionDescription;
    try {
      described = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw none(err);
      throw err;
    }
    if (described.status.name !== 'RUNNING') throw none();
    const taskQueue = described.taskQueue;
    const polling = await pollingWorkers(client, taskQueue);
    if (!polling.length) {
      // a window `schedule` withdrew (no worker took it): nothing was done; cancel ends its workflow, the others have no window
      if (!row && (await withdrawnWindow(handle, { described }))) {
        if (verb !== 'cancelled') {
          throw new SaidError(
            `no scheduled or in-progress maintenance window on target ${t.name}: ${workflowId} is a window withdrawn when it was scheduled (no worker picked it up: nothing was done); ` +
              `'nightshift maintenance cancel --target ${t.name}' ends it, 'nightshift maintenance schedule' replaces it`,
          );
        }
        await endWithdrawn(handle, `cancelled with 'nightshift maintenance cancel': withdrawn when it was scheduled (no worker picked it up), nothing was done`);
        return 'withdrawn';
      }
      throw new SaidError(
        `no worker polls task queue ${taskQueue}, which the window's workflow ${workflowId} runs on: nothing sent, the window is not ${verb}. ` +
          `${standsText(row)}. Start a worker on that queue (\`nightshift worker\` or \`npm run dev\`, with TEMPORAL_TASK_QUEUE=${taskQueue}), then run '${command}' again`,
      );
    }
    const slowNote = () => {
      if (!json) process.stderr.write(`the window accepted the ${commandOf[verb] ?? verb} and works on it; waiting for its answer…\n`);
    };
    const calls = windowCalls(client, handle, { onSlowResult: slowNote });
    // a worker that stopped a moment ago is still listed (for up to 90 s), and one may poll but be stuck: a query
    // answered first, or nothing is sent (an unanswered query leaves no trace; an Update waits, then applies unseen)
    let now: MaintenanceStatus;
    try {
      now = await calls.status();
    } catch (err) {
      if (!(err instanceof NoAnswer)) throw err;
      throw new SaidError(
        `no worker answered the window's workflow ${workflowId} within ${QUERY_MS / 1000} s (task queue ${taskQueue}, workers listed: ${polling.join(', ')}; stopped within the last 90 s, stuck or overloaded): ` +
          `nothing sent, the window is not ${verb}. ${standsText(row)}. Make sure a worker runs on that queue (\`nightshift worker\` or \`npm run dev\`, with TEMPORAL_TASK_QUEUE=${taskQueue}), then run '${command}' again`,
        { cause: err },
      );
    }
    try {
      return await fn(calls, now);
    } catch (err) {
      if (err instanceof NoAnswer) {
        const sent = err.sent
          ? `the ${commandOf[verb] ?? verb} is sent and may still apply when a worker takes it`
          : `nothing sent, the window is not ${verb}`;
        throw new SaidError(
          `no worker answered within ${(err.sent ? UPDATE_ACCEPT_MS : QUERY_MS) / 1000} s (workers polling task queue ${taskQueue}: ${polling.join(', ')}; stuck or overloaded?): ` +
            `${sent}; 'nightshift maintenance status --target ${t.name}' tells where the window is`,
          { cause: err },
        );
      }
      if (err instanceof WorkflowNotFoundError || (err as { cause?: unknown }).cause instanceof WorkflowNotFoundError) throw none(err);
      // the last window has ended: Temporal's own words ("workflow execution already completed") say less
      if (/already completed/i.test(`${(err as Error).message} ${String((err as { cause?: { message?: unknown } }).cause?.message ?? '')}`)) throw none(err);
      throw err;
    }
  });
  if (s === 'withdrawn') {
    output(json, { target: t.name, workflowId, withdrawn: true, ended: true }, () => `cancelled: ${workflowId}, a window withdrawn when it was scheduled (no worker picked it up: nothing was done), is ended`);
    return;
  }
  // The message says what happened, not what was asked: "complete" whose post-checks fail did not complete. An
  // extend moves the end of a failed window too (users see the new end while it stays closed): it is said as done.
  const failed = s.phase === 'failed' && verb !== 'extended';
  output(json, s, (v) => `${failed ? `not ${verb}: the window failed` : verb}: ${statusText(v)}`);
  if (failed) return EXIT_FAILED;
}

interface EditFlags {
  target?: string;
  start?: string;
  end?: string;
  duration?: string;
  type?: string;
  message?: string;
  clearMessage?: boolean;
  preventLoginsFrom?: string;
  cutoff?: string;
  yes?: boolean;
  json?: boolean;
}

export function editInput(flags: EditFlags, now = Date.now()): MaintenanceEdit {
  if (flags.message !== undefined && flags.clearMessage) throw new UsageError('--message and --clear-message: not both (a new message replaces the old one)');
  const edit: MaintenanceEdit = {};
  if (flags.start !== undefined) edit.startsAt = timeFlag('--start', flags.start).toISOString();
  if (flags.end !== undefined) edit.endsAt = timeFlag('--end', flags.end).toISOString();
  if (flags.duration !== undefined) edit.durationSeconds = durationFlag('--duration', flags.duration, { ofWindow: true });
  if (flags.type !== undefined) edit.type = wordFlag('--type', WINDOW_TYPES, flags.type);
  if (flags.message !== undefined) edit.message = parseFlag('--message', messageSchema, flags.message);
  if (flags.clearMessage) edit.message = null;
  if (flags.preventLoginsFrom !== undefined) {
    edit.preventLoginsFrom = flags.preventLoginsFrom === 'none' ? null : timeFlag('--prevent-logins-from', flags.preventLoginsFrom).toISOString();
    // R-MW-3, R-MW-5: a time already past refuses new logins at once, as a start now cuts service: asked, not assumed
    if (edit.preventLoginsFrom && Date.parse(edit.preventLoginsFrom) <= now && !flags.yes) {
      throw new UsageError(
        `--prevent-logins-from ${flags.preventLoginsFrom} is already past: new logins would be refused at once. Confirm with --yes, or give a later time`,
      );
    }
  }
  if (flags.cutoff !== undefined) edit.cutoffSeconds = flags.cutoff.trim().toLowerCase() === 'none' ? null : durationFlag('--cutoff', flags.cutoff, { ofWindow: true });
  const parsed = maintenanceEditSchema.safeParse(edit);
  // the edit's fields named by their flags; the whole edit (no flag given) as what to give
  const names = { value: 'maintenance edit', startsAt: '--start', endsAt: flags.end !== undefined ? '--end' : '--duration', durationSeconds: '--duration', message: '--message', preventLoginsFrom: '--prevent-logins-from', type: '--type', cutoffSeconds: '--cutoff' };
  if (!parsed.success) throw new UsageError(zodText(parsed.error, names).replace(/^maintenance edit: nothing to change$/, 'maintenance edit: nothing to change: give --start, --end or --duration, --type, --message or --clear-message, --prevent-logins-from, or --cutoff'));
  return edit;
}

/** An edit the window's validator would refuse, refused naming the flag behind the field it is about (exit 2). */
export function refuseEdit(w: MaintenanceStatus, edit: MaintenanceEdit, flags: EditFlags, nowMs = Date.now()): void {
  if (edit.cutoffSeconds != null && w.payload.kind === 'none') throw new UsageError('--cutoff: this window has no payload (work by hand): a cutoff would change nothing');
  const problem = editFieldProblem({ ...w, preventLoginsFrom: w.preventLoginsFrom ?? undefined, message: w.message ?? undefined }, edit, nowMs);
  if (!problem) return;
  // the end moves with a new start (the duration kept) unless --end or --duration gave it
  const endFlag = flags.end !== undefined ? '--end' : flags.duration !== undefined ? '--duration' : '--start';
  const flag = { startsAt: '--start', endsAt: endFlag, preventLoginsFrom: '--prevent-logins-from', cutoffSeconds: '--cutoff', value: 'maintenance edit' }[problem.field];
  throw new UsageError(`${flag}: ${problem.message}`);
}

// ---- Recurring windows (R-MW-13): a Temporal Schedule whose action starts one window per occurrence.

interface RecurFlags {
  target?: string;
  name: string;
  cron?: string;
  timezone?: string;
  duration?: string;
  /** undefined: the default, DEFAULT_ANNOUNCE_AHEAD (which refusals then name as such) */
  announceAhead?: string;
  type?: string;
  reason?: string;
  payload: string;
  patchDir?: string;
  backupOnly?: string;
  grace?: string;
  cutoff?: string;
  startWhenDrained?: boolean;
  dbDrain?: boolean;
  notify?: string;
  onFailure?: string;
  json?: boolean;
}

export interface RecurPlan {
  scheduleId: string;
  name: string;
  target: string;
  /** the operator's cron: when each window starts */
  cron: string;
  timezone: string;
  durationSeconds: number;
  announceAheadSeconds: number;
  /** the Schedule's cron expressions: the announcements */
  crons: string[];
  template: MaintenanceWindowInput;
  description: string;
}

/** The flags of `recur` checked before anything is created; every refusal is a UsageError (exit 2). */
export function recurInput(flags: RecurFlags): RecurPlan {
  const t = target(flags.target).name;
  if (flags.cron === undefined) throw new UsageError('--cron is required: when each window starts, e.g. "0 22 * * 6" (Saturdays at 22:00)');
  if (flags.duration === undefined) throw new UsageError('--duration is required: how long each window lasts, e.g. 2h');
  const parsed = recurScheduleSchema.safeParse({
    name: flags.name,
    cron: flags.cron,
    timezone: flags.timezone ?? operatorZone(),
    durationSeconds: flags.duration,
    announceAheadSeconds: flags.announceAhead ?? DEFAULT_ANNOUNCE_AHEAD,
  });
  if (!parsed.success) throw new UsageError(zodText(parsed.error, RECUR_FLAG_NAMES));
  const r = parsed.data;
  const announced = announcementCrons(r.cron, r.announceAheadSeconds, { announceGiven: flags.announceAhead !== undefined });
  if ('problem' in announced) throw new UsageError(announced.problem);
  const payload = wordFlag('--payload', PAYLOAD_KINDS, flags.payload);
  const type = flags.type ?? (payload === 'patch' ? 'deployment' : 'database');
  // the payload, type, grace, notify … exactly as a one-off window reads them, on a template start
  const { input } = scheduleInput(
    { ...flags, type, payload, start: RECUR_TEMPLATE_START, end: undefined, duration: flags.duration, message: flags.reason, yes: true },
    Date.parse(RECUR_TEMPLATE_START),
    { messageFlag: '--reason' },
  );
  const scheduleId = maintenanceRecurScheduleId(t, r.name);
  const template: MaintenanceWindowInput = { ...input, displayTimeZone: r.timezone, recurrence: { scheduleId, announceAheadSeconds: r.announceAheadSeconds } };
  const facts = { target: t, name: r.name, cron: r.cron, timezone: r.timezone, durationSeconds: r.durationSeconds, announceAheadSeconds: r.announceAheadSeconds };
  return { scheduleId, ...facts, crons: announced.crons, template, description: recurDescription({ ...facts, template }) };
}

/** What the Schedule's memo keeps: the description (shown by the Web UI) and the operator's own words. */
interface RecurMemo {
  description: string;
  cron: string;
  durationSeconds: number;
  announceAheadSeconds: number;
}

/** The Schedule fires at announcement times: what a daylight-saving warning names (the operator typed start times). */
const announcedThen = (plan: RecurPlan): string =>
  plan.announceAheadSeconds ? `the window announced then (its start minus --announce-ahead ${formatSeconds(plan.announceAheadSeconds)})` : 'the window starting then';

/** Creates the Schedule paused, checks that its occurrences do not overlap, then lets it run (or deletes it). */
async function recurCreate(flags: RecurFlags): Promise<void> {
  const plan = recurInput(flags);
  // as a one-off window's: a payload that cannot run is refused before the schedule exists (every occurrence would fail)
  await checkPayloadHere(plan.template);
  const next = await withTemporal(async (client) => {
    if (await scheduleExists(client, plan.scheduleId)) {
      throw new UsageError(`schedule ${plan.scheduleId} already exists: delete it first (nightshift maintenance recur delete ${plan.name} --target ${plan.target}) or choose another --name`);
    }
    const memo: RecurMemo = { description: plan.description, cron: plan.cron, durationSeconds: plan.durationSeconds, announceAheadSeconds: plan.announceAheadSeconds };
    const handle = await client.schedule.create({
      scheduleId: plan.scheduleId,
      spec: { cronExpressions: plan.crons, timezone: plan.timezone },
      action: recurringWindowAction(plan.template, {
        taskQueue: config().temporal.taskQueue,
        workflowId: recurringWindowWorkflowId(plan.target, plan.name),
        summary: plan.description,
      }),
      // a late occurrence (server down at the announcement) still starts within half its announcement, at most an hour late
      policies: { overlap: 'SKIP', catchupWindow: `${Math.max(60, Math.min(3600, Math.floor(plan.announceAheadSeconds / 2)))} seconds` },
      state: { paused: true, note: 'being checked by nightshift maintenance recur' },
      memo: { ...memo },
    });
    const d = await handle.describe();
    const overlap = occurrencesProblem(d.info.nextActionTimes, plan.announceAheadSeconds, plan.durationSeconds);
    if (overlap) {
      await handle.delete();
      // two announcements an hour apart on the night clocks go back: the server's doing, said as such
      const night = localDate(overlap.first, plan.timezone);
      const doubled = dstHazards(plan.crons, plan.timezone, Date.now()).find((h) => h.kind === 'twice' && h.date === night);
      throw new UsageError(doubled ? `${overlap.problem}; here only because ${dstHazardText(doubled, plan.timezone, announcedThen(plan))}` : overlap.problem);
    }
    await handle.unpause(`created with nightshift maintenance recur`);
    const mine = d.info.nextActionTimes.map((t) => windowAt(t, plan, plan.timezone));
    return { next: mine.slice(0, 5), collisions: await recurCollisions(client, plan, mine) };
  });
  const warnings = [...next.collisions, ...dstWarnings(plan.crons, plan.timezone, announcedThen(plan))];
  output(flags.json, { scheduleId: plan.scheduleId, cron: plan.cron, timezone: plan.timezone, crons: plan.crons, description: plan.description, next: next.next, warnings }, (v) =>
    [`created schedule ${v.scheduleId}: ${v.description}`, ...occurrenceLines(v.next, plan.timezone), ...warningLines(v.warnings)].join('\n'),
  );
}

/** The recurring windows' Schedules (of one target, when given): id and name. */
async function recurSchedules(client: Client, only?: string): Promise<{ scheduleId: string; name: string }[]> {
  const found: { scheduleId: string; name: string }[] = [];
  for await (const s of client.schedule.list()) {
    const parts = s.scheduleId.startsWith(MAINTENANCE_RECUR_PREFIX) ? parseRecurScheduleId(s.scheduleId) : undefined;
    if (parts && (only === undefined || parts.target === only)) found.push({ scheduleId: s.scheduleId, name: parts.name });
  }
  return found;
}

/**
 * R-MW-2, R-MW-13: one window per target at a time, from its announcement to its end. The new schedule's next
 * occurrences that meet another recurring window's, or the window scheduled or open now, are said at creation: the
 * later of the two is refused when it fires (recur show names why), and nothing else would tell the operator.
 */
async function recurCollisions(client: Client, plan: RecurPlan, mine: Occurrence[]): Promise<string[]> {
  const overlaps = (a: Occurrence, b: { announcedAt: Date; endsAt: Date }) => a.announcedAt < b.endsAt && b.announcedAt < a.endsAt;
  const at = (t: Date) => formatDateTime(t, plan.timezone);
  const said: string[] = [];
  const now = Date.now();
  for (const { scheduleId, name } of await recurSchedules(client, plan.target)) {
    if (scheduleId === plan.scheduleId) continue;
    const other = await client.schedule.getHandle(scheduleId).describe().catch(() => undefined);
    const memo = other?.memo as Partial<RecurMemo> | undefined;
    if (!other || other.state.paused || typeof memo?.durationSeconds !== 'number' || typeof memo.announceAheadSeconds !== 'number') continue;
    const timing = { announceAheadSeconds: memo.announceAheadSeconds, durationSeconds: memo.durationSeconds };
    const zone = other.spec.timezone ?? 'UTC';
    // both computed from their crons over a horizon that shows every weekly or monthly pattern (the server's next 10
    // actions of an hourly cron never reach Saturday's weekly window); the server's next actions when a cron is unread
    const untilMs = now + Math.max(cronHorizonDays(plan.cron), cronHorizonDays(memo.cron ?? '')) * DAY_MS;
    const ours = cronOccurrences(plan.cron, plan.timezone, plan, now, untilMs) ?? mine;
    const theirs =
      (typeof memo.cron === 'string' ? cronOccurrences(memo.cron, zone, timing, now - (timing.announceAheadSeconds + timing.durationSeconds) * 1000, untilMs) : undefined) ??
      other.info.nextActionTimes.map((t) => windowAt(t, timing, zone));
    const hits = meeting(ours, theirs);
    if (hits.length) {
      const when = at(hits[0]!.startsAt);
      said.push(
        `its window of ${when.date} ${when.time} meets one of the recurring window ${name} (announced to its end), ${hits.length} of the next ${ours.length} occurrences in all: ` +
          `only one window per target at a time, the later one is refused when it fires (R-MW-2); change --cron or --duration, or delete one`,
      );
    }
  }
  const current = await withPools(plan.target, (pool) => activeWindow(pool));
  if (current) {
    // every occurrence announced before that window ends is refused, not only the first (drill W: a one-off window a year
    // ahead refused every nightly occurrence until then)
    const refused = mine.filter((m) => overlaps(m, { announcedAt: new Date(0), endsAt: current.endsAt }));
    if (refused.length) {
      const first = at(refused[0]!.startsAt);
      const end = at(current.endsAt);
      const which = refused.length === mine.length ? `every one of the next ${mine.length} occurrences and any after them until then` : `${refused.length} of the next ${mine.length} occurrences`;
      said.push(
        `every occurrence announced before the ${describeWindow(current, plan.timezone)} ends (${end.date} ${end.time}) is refused when it fires (R-MW-2): ` +
          `${which}, from ${first.date} ${first.time}; each refusal is shown by recur show and mailed to --notify when given`,
      );
    }
  }
  return said;
}

/**
 * R-MW-2 the other way round: a one-off window holds the target from now (scheduled) to its end, so every occurrence of a
 * recurring window announced before then is refused when it fires (tester A: a window scheduled for next October would
 * have refused every weekly occurrence until then, unsaid). Said before it is scheduled, one line per recurring window.
 */
export async function occurrencesRefusedBy(client: Client, targetName: string, endsAtMs: number): Promise<string[]> {
  const now = Date.now();
  const said: string[] = [];
  for (const { scheduleId, name } of await recurSchedules(client, targetName)) {
    const other = await client.schedule.getHandle(scheduleId).describe().catch(() => undefined);
    const memo = other?.memo as Partial<RecurMemo> | undefined;
    if (!other || other.state.paused || typeof memo?.cron !== 'string' || typeof memo.durationSeconds !== 'number' || typeof memo.announceAheadSeconds !== 'number') continue;
    const zone = other.spec.timezone ?? 'UTC';
    const timing = { announceAheadSeconds: memo.announceAheadSeconds, durationSeconds: memo.durationSeconds };
    // occurrences whose announcement (when the Schedule fires) falls before this window's end
    const refused = (cronOccurrences(memo.cron, zone, timing, now, endsAtMs + timing.announceAheadSeconds * 1000) ?? []).filter((o) => o.announcedAt.getTime() >= now && o.announcedAt.getTime() < endsAtMs);
    if (!refused.length) continue;
    const first = formatDateTime(refused[0]!.startsAt, zone);
    said.push(
      `${refused.length} occurrence(s) of the recurring window ${name} fire before this window ends, from ${first.date} ${first.time}: each is refused (one window per target at a time, R-MW-2), shown by recur show and mailed to its --notify; pause it meanwhile ('nightshift maintenance recur pause ${name}') if that is meant`,
    );
  }
  return said;
}

interface Occurrence {
  announcedAt: Date;
  startsAt: Date;
  endsAt: Date;
}

/** A recurring window's occurrences from its cron (start times) in [fromMs, untilMs); undefined for a cron not read. */
function cronOccurrences(cron: string, zone: string, r: { announceAheadSeconds: number; durationSeconds: number }, fromMs: number, untilMs: number): Occurrence[] | undefined {
  return cronTimes(cron, zone, fromMs, untilMs)?.map((startsAt) => ({
    announcedAt: new Date(startsAt.getTime() - r.announceAheadSeconds * 1000),
    startsAt,
    endsAt: new Date(startsAt.getTime() + r.durationSeconds * 1000),
  }));
}

/** The occurrences of `ours` that meet one of `theirs` (announced to its end); both in time order, read once each. */
function meeting(ours: Occurrence[], theirs: Occurrence[]): Occurrence[] {
  const hits: Occurrence[] = [];
  let j = 0;
  for (const m of ours) {
    while (j < theirs.length && theirs[j]!.endsAt <= m.announcedAt) j++;
    // the next few of theirs that start before ours ends: one of them may meet it
    for (let k = j; k < theirs.length && theirs[k]!.announcedAt < m.endsAt; k++) {
      if (theirs[k]!.endsAt > m.announcedAt) {
        hits.push(m);
        break;
      }
    }
  }
  return hits;
}

/** An occurrence's window as the workflow will place it (domain/maintenance-recur.ts: the wall clock of the zone). */
const windowAt = (fire: Date, r: { announceAheadSeconds: number; durationSeconds: number }, zone: string): Occurrence => {
  const startsAt = new Date(occurrenceStartMs(fire.getTime(), r.announceAheadSeconds, zone));
  return { announcedAt: fire, startsAt, endsAt: new Date(startsAt.getTime() + r.durationSeconds * 1000) };
};

function occurrenceLines(next: Occurrence[], zone: string, paused = false): string[] {
  const at = (d: Date) => {
    const f = formatDateTime(d, zone);
    return `${f.date} ${f.time}`;
  };
  if (paused) return ['  next windows    (none while paused)'];
  if (!next.length) return ['  next windows    (none)'];
  return next.map((o, i) => {
    const end = formatDateTime(o.endsAt, zone);
    const endText = end.date === formatDateTime(o.startsAt, zone).date ? end.time : `${end.date} ${end.time}`;
    return `  ${i === 0 ? 'next windows    ' : ' '.repeat(16)}${at(o.startsAt)}-${endText} (announced from ${at(o.announcedAt)})`;
  });
}

export interface RecurView {
  scheduleId: string;
  name: string;
  target: string;
  description: string;
  cron: string;
  timezone: string;
  durationSeconds: number;
  announceAheadSeconds: number;
  payload: PayloadKind | undefined;
  /** each window's cutoff (--cutoff), when given */
  cutoffSeconds?: number;
  paused: boolean;
  note: string | undefined;
  next: Occurrence[];
  running: string[];
  skippedOverlaps: number;
}

async function recurView(client: Client, scheduleId: string): Promise<RecurView> {
  const d = await client.schedule.getHandle(scheduleId).describe();
  const ids = parseRecurScheduleId(scheduleId)!;
  const memo = (d.memo ?? {}) as Partial<RecurMemo>;
  const template = d.action.type === 'startWorkflow' ? (d.action.args?.[0] as MaintenanceWindowInput | undefined) : undefined;
  const announceAheadSeconds = memo.announceAheadSeconds ?? template?.recurrence?.announceAheadSeconds ?? 0;
  const durationSeconds = memo.durationSeconds ?? (template ? (Date.parse(template.endsAt) - Date.parse(template.startsAt)) / 1000 : 0);
  return {
    scheduleId,
    ...ids,
    description: memo.description ?? '',
    cron: memo.cron ?? (d.spec.calendars ?? []).map((c) => calendarCron(c) ?? '?').join(' | '),
    timezone: d.spec.timezone ?? 'UTC',
    durationSeconds,
    announceAheadSeconds,
    payload: template?.payload.kind,
    ...(template?.cutoffSeconds !== undefined && { cutoffSeconds: template.cutoffSeconds }),
    paused: d.state.paused,
    note: d.state.note,
    next: d.state.paused ? [] : d.info.nextActionTimes.slice(0, 5).map((t) => windowAt(t, { announceAheadSeconds, durationSeconds }, d.spec.timezone ?? 'UTC')),
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
    skippedOverlaps: d.info.numActionsSkippedOverlap,
  };
}

function recurText(v: RecurView): string {
  const row = (label: string, value: string) => `  ${label.padEnd(16)}${value}`;
  return [
    `${v.target}/${v.name} (schedule ${v.scheduleId})${v.paused ? ' PAUSED' : ''}`,
    row('windows', `start at "${v.cron}" (${v.timezone}), last ${formatSeconds(v.durationSeconds)}, announced ${formatSeconds(v.announceAheadSeconds)} ahead, payload ${v.payload ?? '?'}${v.cutoffSeconds !== undefined ? `, cutoff ${formatSeconds(v.cutoffSeconds)}` : ''}`),
    ...(v.paused && v.note ? [row('paused', v.note)] : []),
    ...occurrenceLines(v.next, v.timezone, v.paused),
    ...(v.running.length ? [row('open now', v.running.join(', '))] : []),
    ...(v.skippedOverlaps ? [row('skipped', `${v.skippedOverlaps} occurrence(s), a window of the target being open`)] : []),
  ].join('\n');
}

async function recurList(flags: { target?: string; json?: boolean }): Promise<void> {
  const only = flags.target !== undefined ? target(flags.target).name : undefined;
  const views = await withTemporal(async (client) => {
    const ids = (await recurSchedules(client, only)).map((r) => r.scheduleId);
    return Promise.all(ids.sort().map((id) => recurView(client, id)));
  });
  output(flags.json, views, (vs) => (vs.length ? vs.map(recurText).join('\n\n') : 'no recurring maintenance windows'));
}

/** `show|pause|unpause|delete NAME`: a missing Schedule is said plainly, with the command that makes one. */
async function onRecur<V>(name: string, flags: { target?: string; json?: boolean }, fn: (client: Client, scheduleId: string) => Promise<V>, text: (v: V) => string): Promise<void> {
  const n = parseFlag('NAME', recurNameSchema, name);
  const scheduleId = maintenanceRecurScheduleId(target(flags.target).name, n);
  const value = await withTemporal((client) => onExistingSchedule(`no recurring window ${n} (schedule ${scheduleId}): see nightshift maintenance recur list`, () => fn(client, scheduleId)));
  output(flags.json, value, text);
}

function registerRecurCommands(m: Command): void {
  const recur = m.command('recur').description('recurring windows (R-MW-13): a Temporal Schedule that starts a window per occurrence');
  // `maintenance recur --cron …` creates (the default subcommand): `recur` itself has no option that would take list's --target
  recur
    .command('create', { isDefault: true })
    .description('a recurring window: a Temporal Schedule that starts a window per occurrence, announced ahead; an occurrence is skipped while a window is open')
    .addOption(targetOption())
    .option('--name <name>', 'the recurring window\'s name (schedule maintenance-recur/{target}/{name})', 'default')
    .option('--cron <expression>', 'when each window starts: minute hour day-of-month month day-of-week, e.g. "0 22 * * 6"')
    .option('--timezone <tz>', 'IANA time zone of --cron, e.g. Europe/Paris (default: NIGHTSHIFT_TIMEZONE, else TZ)')
    .option('--duration <d>', 'how long each window lasts: 45m, 2h, 1h30m')
    .option('--announce-ahead <d>', `how long before its start each window is announced to users (R-MW-4; default ${DEFAULT_ANNOUNCE_AHEAD}, 0m for none)`)
    .option('--type <type>', 'database or deployment (default: deployment with --payload patch, else database)')
    .option('--reason <text>', 'why (the window\'s message, in every summary)')
    .addOption(new Option('--payload <kind>', 'the work to run in each window: none, backup, patch or backup+patch (with --patch-dir)').default('none'))
    .option('--patch-dir <dir>', 'with --payload patch or backup+patch: the directory of patch packages (read by the worker)')
    .option('--backup-only <codes>', 'with --payload backup: only these dossier codes (comma-separated)')
    .option('--on-failure <action>', 'with --payload backup+patch: "rollback" rolls the dossiers the patch failed back to their restore points (R-PI-11), then gives access back')
    .option('--max-failures <n|percent>', 'with --payload patch or backup+patch: the patch run stops starting dossiers once more than this many (10) or this share (5%) have failed (AWS SSM MaxErrors)')
    .option('--grace <d>', `drain grace before the work (default ${DEFAULT_DRAIN_GRACE})`)
    .option('--cutoff <d>', 'with a payload: do not start it when less than this is left before the planned end (30m, 1h); access comes back without it (SSM\'s cutoff)')
    .option('--start-when-drained', 'start the work as soon as no session is left')
    .option('--db-drain', 'also refuse new connections to the target database and end the others after the grace')
    .option('--notify <emails>', 'comma-separated e-mail addresses told when each window is over')
    .addOption(jsonOption())
    // a word after `recur` that is no subcommand lands here (the default): named as such, not as create's argument
    .allowExcessArguments(true)
    .action(
      action(async (flags: RecurFlags, cmd: Command) => {
        if (cmd.args.length) {
          throw new UsageError(`maintenance recur: no subcommand '${cmd.args[0]}' (create, list, show, pause, unpause, delete; see 'nightshift maintenance recur --help')`);
        }
        return recurCreate(flags);
      }),
    );

  recur
    .command('list')
    .description('the recurring windows, with their next occurrences')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(action((flags: { target?: string; json?: boolean }) => recurList(flags)));

  recur
    .command('show <name>')
    .description('one recurring window: what it does, its schedule (cron, time zone, overlap policy, next and last runs)')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action((name: string, flags: { target?: string; json?: boolean }) =>
        onRecur(
          name,
          flags,
          async (client, id) => ({ recur: await recurView(client, id), schedule: await describeSchedule(client, client.schedule.getHandle(id)) }),
          (v) => `${recurText(v.recur)}\n${scheduleText(v.schedule)}`,
        ),
      ),
    );

  for (const [verb, done, description] of [
    ['pause', 'paused', 'pause: no occurrence starts until unpause'],
    ['unpause', 'resumed', 'resume the occurrences'],
    ['delete', 'deleted', 'delete the schedule (a window already open goes on)'],
  ] as const) {
    recur
      .command(`${verb} <name>`)
      .description(description)
      .addOption(targetOption())
      .addOption(jsonOption())
      .action(
        action((name: string, flags: { target?: string; json?: boolean }) =>
          onRecur(
            name,
            flags,
            async (client, scheduleId) => {
              const h = client.schedule.getHandle(scheduleId);
              if (verb === 'pause') await h.pause(`paused with nightshift maintenance recur pause`);
              else if (verb === 'unpause') await h.unpause(`resumed with nightshift maintenance recur unpause`);
              else await h.delete();
              return { scheduleId, done };
            },
            (v) => `${v.scheduleId}: ${v.done}`,
          ),
        ),
      );
  }
}

export function registerMaintenanceCommands(program: Command): void {
  const m = program.command('maintenance').description('maintenance windows: announce, close sessions, do the work, give access back');

  m.command('schedule')
    .description('schedule a maintenance window (start defaults to now, which cuts service at once)')
    .addOption(targetOption())
    .option('--start <time>', `start: an ISO date-time in your time zone, or "now" (default)`)
    .option('--end <time>', 'end: an ISO date-time in your time zone')
    .option('--duration <d>', 'or the duration: 45m, 2h, 1h30m')
    .option('--type <type>', 'database or deployment')
    .option('--message <text>', "a message for the application's users: added to the notices they see (login refusals, heartbeats, the public notice page) and shown in status")
    .addOption(
      new Option('--payload <kind>', 'the work to run: none (by hand, then "complete"), backup (the backup batch), patch (with --patch-dir) or backup+patch (patch, with a verified restore point of each dossier taken just before it is patched)').default('none'),
    )
    .option('--patch-dir <dir>', 'with --payload patch or backup+patch: the directory of patch packages (read by the worker)')
    .option('--backup-only <codes>', 'with --payload backup: only these dossier codes (comma-separated)')
    .option('--on-failure <action>', 'with --payload backup+patch: "rollback" rolls the dossiers the patch failed back to their restore points (R-PI-11), then gives access back')
    .option('--max-failures <n|percent>', 'with --payload patch or backup+patch: the patch run stops starting dossiers once more than this many (10) or this share (5%) have failed (AWS SSM MaxErrors)')
    .option('--grace <d>', `drain grace before the work (default ${DEFAULT_DRAIN_GRACE})`)
    .option('--cutoff <d>', 'with a payload: do not start it when less than this is left before the planned end (30m, 1h); access comes back without it (SSM\'s cutoff)')
    .option('--prevent-logins-from <time>', 'refuse new logins from this time before the start')
    .option('--start-when-drained', 'start the work as soon as no session is left')
    .option('--db-drain', 'also refuse new connections to the target database and end the others after the grace')
    .option('--notify <emails>', 'comma-separated e-mail addresses told when it is over')
    .option('-y, --yes', 'do not ask for confirmation of an immediate start')
    .addOption(jsonOption())
    .action(action((flags: ScheduleFlags) => schedule(flags)));

  m.command('list')
    .description('recent maintenance windows, newest start first, with their ids')
    .option('--limit <n>', `how many per target (default 20, at most ${LIST_LIMIT_MAX})`)
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(action((flags: { target?: string; json?: boolean; limit?: string }) => list(flags)));

  m.command('show')
    .description('one window, current or past (SSM\'s window execution): its times, how it ended, the runs it ran')
    .argument('<id>', "the window's id, or its first characters ('nightshift maintenance list' prints them)")
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(action((id: string, flags: { target?: string; json?: boolean }) => show(id, flags)));

  m.command('status')
    .description('the current window, its phase and the open sessions')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(action((flags: { target?: string; json?: boolean }) => status(flags)));

  m.command('edit')
    .description('change a scheduled window')
    .addOption(targetOption())
    .option('--start <time>', 'new start (keeps the duration unless --end or --duration)')
    .option('--end <time>', 'new end')
    .option('--duration <d>', 'new duration (moves the end)')
    .option('--type <type>', 'database or deployment')
    .option('--message <text>', 'new message')
    .option('--clear-message', 'remove the message')
    .option('--prevent-logins-from <time>', 'new early login block, or "none"')
    .option('--cutoff <d>', 'new cutoff (the payload is not started with less than this left before the end), or "none"')
    .option('--yes', 'with --prevent-logins-from a time already past: refuse new logins at once')
    .addOption(jsonOption())
    .action(
      action(async (flags: EditFlags) => {
        const edit = editInput(flags);
        await update(
          flags.target,
          async (w, now) => {
            // the update's validator refuses the same edit in its own words; checked here first, the flag is named
            if (now.state === 'scheduled') refuseEdit(now, edit, flags);
            // the workflow answers once the login block the edit moved is applied (the phase the gate acts on)
            return w.update(editMaintenanceUpdate, edit);
          },
          flags.json,
          'edited',
        );
      }),
    );

  m.command('extend')
    .description('move the end of a window in progress later (users see the new end)')
    .addOption(targetOption())
    .option('--end <time>', 'the new end')
    .option('--by <d>', 'or how much longer: 30m, 1h')
    .addOption(jsonOption())
    .action(
      action(async (flags: { target?: string; end?: string; by?: string; json?: boolean }) => {
        if ((flags.end === undefined) === (flags.by === undefined)) throw new UsageError('give either --end or --by (one of them)');
        const end = flags.end !== undefined ? timeFlag('--end', flags.end) : undefined;
        const by = flags.by !== undefined ? durationFlag('--by', flags.by, { ofWindow: true }) : 0;
        await update(
          flags.target,
          async (w, first) => {
            // --by adds to the end the window has when the update lands: another extend that landed between this
            // command's read and its update (two operators at once, drill R) is read again, not refused
            for (let attempt = 1; ; attempt++) {
              const now = attempt === 1 ? first : await w.status();
              const endsAt = end ?? new Date(Date.parse(now.endsAt) + by * 1000);
              const extension = { endsAt: endsAt.toISOString() };
              // as edit: the validator's refusal with the flag named (an extension only moves the end)
              const problem = now.state === 'in_progress' ? extendProblem(now, extension, Date.now()) : undefined;
              if (problem) throw new UsageError(`${flags.end !== undefined ? '--end' : '--by'}: ${problem}`);
              try {
                return await w.update(extendMaintenanceUpdate, extension);
              } catch (err) {
                if (end !== undefined || attempt >= 3 || innermostMessage(err) !== EXTEND_NOT_LATER) throw err;
              }
            }
          },
          flags.json,
          'extended',
        );
      }),
    );

  for (const [name, def, description, verb] of [
    [
      'cancel',
      cancelMaintenanceUpdate,
      'cancel a scheduled window, or abort one in progress: access comes back at once, or, while its payload (a patch, a backup) or a run started by hand in it runs, once that run has ended (it is not cut mid-way)',
      'cancelled',
    ],
    ['complete', completeMaintenanceUpdate, 'the work is done: run the post-checks and give access back (once the runs started by hand in the window have ended)', 'completed'],
    ['reopen', reopenMaintenanceUpdate, 'after a failure: give access back', 'reopened'],
  ] as const) {
    m.command(name)
      .description(description)
      .addOption(targetOption())
      .addOption(jsonOption())
      .action(
        action(async (flags: { target?: string; json?: boolean }) => {
          return update(
            flags.target,
            async (w, now) => {
              // a cancel waits for a running payload to end, a cancel, complete or reopen for the runs started by hand in
              // the window (R-PI-2): said before the wait, not after it
              if (!flags.json) {
                if (name === 'cancel' && now.phase === 'working' && now.payloadRun?.state === 'running') {
                  process.stdout.write(
                    `cancel requested: the payload ${now.payloadRun.workflowId} (${now.payloadRun.kind}) runs to its end first (it is not cut mid-way), then access comes back; waiting…\n`,
                  );
                }
                // read from the ledgers, not only from the window's links: a run started a moment ago is not linked yet
                // (the window looks every 30 s), and the wait for it would be silent
                const own = [now.payloadRun?.workflowId, now.rollbackRun?.workflowId];
                const windowId = now.windowId;
                const open = now.phase === 'working' || (now.phase === 'failed' && name !== 'complete');
                const fromLedgers =
                  open && windowId
                    ? (await withPools(target(flags.target).name, (pool) => runsSinceWindow(pool, windowId))).filter((r) => !own.includes(r.workflowId))
                    : [];
                const byHand = [...fromLedgers, ...(open ? (now.linkedRuns ?? []) : [])]
                  .filter((r) => r.state === 'running')
                  .filter((r, i, all) => all.findIndex((o) => o.workflowId === r.workflowId) === i);
                if (byHand.length) {
                  process.stdout.write(
                    `${name} requested: ${byHand.map((r) => `${r.kind} run ${r.workflowId}`).join(', ')}, started by hand in the window, ` +
                      `still running: access comes back once ${byHand.length > 1 ? 'they have' : 'it has'} ended (single-user mode, R-PI-2); waiting…\n`,
                  );
                }
              }
              return w.update(def);
            },
            flags.json,
            verb,
          );
        }),
      );
  }

  registerRecurCommands(m);
}
