import { formatDateTime, type GateState, type WindowState, type WindowType } from './maintenance';
import { formatSeconds } from './maintenance-recur';
import { capFailures, codeSpan, DETAILS_FAILURES_SHOWN, escapeMarkdown, failuresBlock, oneLine, type DossierFailure } from './run-details';
import { type MaxFailures, maxFailuresText } from './patch-input';
import type { MaintenanceMailKind } from './maintenance-text';

/**
 * What an operator reads of a maintenance window in the Temporal Web UI (issue 12): the summary that
 * tells two windows apart, the current details (markdown) and the next step as a copyable command.
 * Pure: the workflow renders them from its state on every change, so nothing goes stale.
 * Reuses the run-details primitives (escapeMarkdown, codeSpan, capped `CODE: reason` failures).
 */

/** A backup batch or patch run tied to the window: its payload child, or one started by hand inside it. */
export interface WindowRun {
  kind: 'backup' | 'patch' | 'rollback';
  workflowId: string;
  /** the ledger's run id, once known */
  runId?: string;
  /** rollback: dossiers restored to their restore point */
  restored?: number;
  /** rollback: the first of them, by code (the rollback's result) */
  codes?: string[];
  /** running, completed, partial, failed */
  state?: string;
  /** a run started by hand that ended partial or failed: its dossiers not done (failed, in use, not reached) */
  notDone?: number;
  /** a patch run stopped by --max-failures, or at its failed supervisor: its dossiers not started (left at their level, R-PI-9) */
  notStarted?: number;
  /** `notStarted` are the dossiers after a supervisor that failed (no other dossier was touched), not --max-failures' */
  supervisorFailed?: boolean;
}

export interface NextStep {
  text: string;
  command: string;
}

/** The part of a window's status the texts need (workflows/maintenance-window.api.ts MaintenanceStatus). */
export interface WindowFacts {
  target: string;
  workflowId: string;
  type: WindowType;
  state: WindowState;
  phase: string;
  startsAt: string;
  endsAt: string;
  message?: string;
  payload: { kind: string; maxFailures?: MaxFailures };
  openSessions: number | null;
  sessionsToClose: number | null;
  forcedSessions: number;
  failure?: string;
  failures?: DossierFailure[];
  failuresTotal?: number;
  payloadRun?: WindowRun;
  linkedRuns?: WindowRun[];
  rollbackRun?: WindowRun;
  reopenedAfter?: string;
  /** ended by its end time, nobody having said `complete` (work by hand, R-MW-9) */
  endedAtEnd?: boolean;
  /** refused before its row existed (R-MW-2): it never started */
  refused?: string;
  /** workflow time of each phase change, oldest first: when it ended or was cancelled */
  phases?: { phase: string; at: string }[];
  /** R-MW-10: who gets the e-mails */
  notify?: string[];
  /** the payload is not started with less than this left before the planned end (SSM's cutoff) */
  cutoffSeconds?: number;
  /** the payload was not started: the cutoff was reached */
  cutoffReached?: { remainingSeconds: number; cutoffSeconds: number };
  /** the planned end passed while the payload ran (workflow time), --notify mailed then or not */
  overrun?: { at: string; mailed: boolean; during?: 'closing_sessions' | 'payload' };
  /** R-MW-7: `complete` said before the work began: access back as a cancel gives it, nobody closed by force */
  completedEarly?: boolean;
  /** R-MW-10: the --notify mails not sent in the window's own attempts, retried by a workflow of their own */
  mailsRetrying?: MailRetrying[];
}

/** A --notify mail handed to its own workflow (R-MW-10): which, the workflow retrying it, why the window's attempts failed. */
export interface MailRetrying {
  kind: MaintenanceMailKind;
  workflowId: string;
  error: string;
}

/** A --notify mail the window could not send, handed to its own workflow (R-MW-10): one line, the CLI's and the Web UI's. */
export function mailRetryingText(m: MailRetrying): string {
  return `the ${m.kind} mail was not sent (${m.error}): retried for up to a day by workflow ${m.workflowId}`;
}

/** Time left, as an operator reads it: whole minutes, or seconds under one. */
export const timeLeftText = (seconds: number): string => (seconds >= 60 ? `${Math.floor(seconds / 60)} min` : `${Math.max(0, Math.floor(seconds))} s`);

/** A cutoff as it was given (30m, 1h30m). */
export const cutoffText = (seconds: number): string => formatSeconds(seconds);

/** The payload not started by the cutoff, in one line (the list's outcome, status, details). */
export function cutoffReachedText(c: { remainingSeconds: number; cutoffSeconds: number }): string {
  return `payload not started: cutoff (${timeLeftText(c.remainingSeconds)} left before the planned end, cutoff ${cutoffText(c.cutoffSeconds)})`;
}

const REASON_IN_SUMMARY = 60;

const OUTCOME_REASON = 80;

/** A reason cut to OUTCOME_REASON characters at a word's end, with … when cut (never mid-word or mid-path). */
function shortReason(text: string): string {
  const line = oneLine(text);
  if (line.length <= OUTCOME_REASON) return line;
  const cut = line.slice(0, OUTCOME_REASON);
  const end = cut.lastIndexOf(' ');
  return `${(end > OUTCOME_REASON / 2 ? cut.slice(0, end) : cut).replace(/[\s,;:(]+$/, '')}…`;
}

/**
 * A window's failure without its advice to reopen (the payload failures end with ", then reopen"): what a window that
 * was since reopened or cancelled says of it, since that advice no longer holds (R-MW-10, R-MW-12).
 */
export function failureReason(failure: string): string {
  return failure.replace(/,\s*then reopen\.?\s*$/, '');
}

/**
 * What became of a window that ended, in one line for `maintenance list` (stored with its final state): a reopen and
 * after what, its payload and hand-started runs that did not end cleanly, the failures it counted. Empty: it went well.
 */
/** R-MW-7: a window completed while its sessions were being closed, as the list, the status, the details say it. */
export const COMPLETED_EARLY = 'completed early, before its work began: close orders withdrawn, no session closed by force';

export function windowOutcome(w: Pick<WindowFacts, 'state' | 'failure' | 'failuresTotal' | 'payloadRun' | 'linkedRuns' | 'rollbackRun' | 'reopenedAfter' | 'endedAtEnd' | 'cutoffReached' | 'completedEarly'>): string {
  const parts: string[] = [];
  if (w.endedAtEnd) parts.push('ended by its end time (no complete)');
  if (w.completedEarly) parts.push(COMPLETED_EARLY);
  if (w.cutoffReached) parts.push(cutoffReachedText(w.cutoffReached));
  // an ended window's failure is history: its advice to reopen no longer holds
  if (w.failure) parts.push(`${w.state === 'cancelled' ? 'cancelled after a failure' : 'failed'}: ${shortReason(failureReason(w.failure))}`);
  if (w.reopenedAfter) parts.push(`reopened after: ${shortReason(failureReason(w.reopenedAfter))}`);
  // as `maintenance status` counts a run: its dossiers not done, then those it did not start (patch_run.not_started)
  const counts = (r: WindowRun) => {
    const c = [r.notDone ? `${r.notDone} dossier(s) not done` : '', r.notStarted ? `${r.notStarted} not started: ${notStartedWhy(r)}` : ''].filter(Boolean);
    return c.length ? ` (${c.join(', ')})` : '';
  };
  const runText = (r: WindowRun, what: string) => (r.state && r.state !== 'completed' ? `${what} ${r.kind} ${r.state}${counts(r)}` : '');
  if (w.payloadRun) parts.push(runText(w.payloadRun, 'payload'));
  if (w.rollbackRun?.restored) parts.push(`${w.rollbackRun.restored} dossier(s) rolled back`);
  for (const r of w.linkedRuns ?? []) parts.push(runText(r, 'hand-started'));
  if (w.failuresTotal && !w.reopenedAfter && !w.failure) parts.push(`${w.failuresTotal} failure(s)`);
  return parts.filter(Boolean).join('; ');
}

/**
 * One line that tells two windows of a target apart (they share the workflow id maintenance/{target}):
 * type, target, start–end in the operator's zone, payload and the operator's reason.
 */
export function windowSummary(w: Pick<WindowFacts, 'type' | 'target' | 'startsAt' | 'endsAt' | 'payload' | 'message'>, zone: string): string {
  const a = formatDateTime(new Date(w.startsAt), zone);
  const b = formatDateTime(new Date(w.endsAt), zone);
  const endText = a.date === b.date ? b.time : `${b.date} ${b.time}`;
  const reason = w.message ? `: ${oneLine(w.message, REASON_IN_SUMMARY)}` : '';
  return `maintenance ${w.type} on ${w.target} ${a.date} ${a.time}-${endText} (${zone}), payload ${w.payload.kind}${reason}`;
}

/** An on-failure rollback that found no failed dossier with a restore point (none was touched): the window went on. */
export const NOTHING_TO_ROLL_BACK = 'nothing to roll back';
/** The rollback states after which the window goes on to its checks and gives access back. */
export const ROLLED_BACK_STATES: readonly string[] = ['completed', NOTHING_TO_ROLL_BACK];

/** `--target` as every command takes it. */
const cmd = (verb: string, target: string) => `nightshift ${verb} --target ${target}`;

/**
 * When a window that ended did, in the operator's zone as the CLI's status says it (`cancelled 05/12/2026 00:13`): its
 * final phase change's workflow time; empty while it has not ended.
 */
export function windowEndedText(w: Pick<WindowFacts, 'state' | 'phases'>, zone: string): string {
  if (w.state !== 'completed' && w.state !== 'cancelled') return '';
  const end = [...(w.phases ?? [])].reverse().find((p) => p.phase === w.state);
  if (!end) return '';
  const f = formatDateTime(new Date(end.at), zone);
  return `${w.state === 'completed' ? 'ended' : 'cancelled'} ${f.date} ${f.time}`;
}

/** What to run next, first step first; empty when nothing is to be done (scheduled ahead, over, never started). */
export function windowNextSteps(w: WindowFacts): NextStep[] {
  if (w.refused !== undefined) return [];
  const reopen = { text: 'Then give access back', command: cmd('maintenance reopen', w.target) };
  switch (w.phase) {
    case 'failed': {
      const run = w.payloadRun;
      // the payload's failed dossiers were rolled back and the window went on: what failed is its post-checks (R-MW-10),
      // which a reopen follows once fixed; the rolled-back dossiers are patched again later, inside a window
      const rolledBack = rolledBackStep(w);
      if (rolledBack) return [{ text: 'Fix what the post-checks found, then give access back', command: cmd('maintenance reopen', w.target) }, rolledBack];
      if (run?.runId && (run.state === 'partial' || run.state === 'failed')) {
        return [
          { text: `Retry the ${run.kind === 'backup' ? 'dossiers not backed up' : 'dossiers not patched'}${notStartedText(run)}`, command: `${cmd(`${run.kind} retry`, w.target)} --run ${run.runId}` },
          reopen,
        ];
      }
      return [{ text: 'Fix the problem, then give access back', command: cmd('maintenance reopen', w.target) }];
    }
    case 'closing_sessions':
    case 'draining':
      return [{ text: 'Watch the sessions', command: cmd('maintenance status', w.target) }];
    case 'working':
      if (w.payload.kind === 'none') return [{ text: "When the work is done (else access comes back by itself at the window's end: extend it if the work needs longer)", command: cmd('maintenance complete', w.target) }];
      return [{ text: 'Watch the payload', command: cmd(`${w.payload.kind === 'backup' ? 'backup' : 'patch'} status`, w.target) }];
    case 'cancelled': {
      // R-MW-12 after a failure: nothing to reopen, access is back; the payload's dossiers not done can still be retried
      const run = w.payloadRun;
      if (!w.failure || !run?.runId || (run.state !== 'partial' && run.state !== 'failed')) return [];
      const what = run.kind === 'backup' ? 'Back up the dossiers not backed up' : 'Patch the dossiers not patched, inside a new window';
      return [{ text: `${what} (the window was cancelled)${notStartedText(run)}`, command: `${cmd(`${run.kind} retry`, w.target)} --run ${run.runId}` }];
    }
    case 'completed': {
      const rolledBack = rolledBackStep(w);
      return rolledBack ? [rolledBack] : [];
    }
    default:
      return [];
  }
}

/** R-PI-11 on failure: the failed dossiers are back to before the patch, below the others: patched again once fixed. */
function rolledBackStep(w: Pick<WindowFacts, 'target' | 'payloadRun' | 'rollbackRun'>): NextStep | undefined {
  const run = w.payloadRun;
  if (!ROLLED_BACK_STATES.includes(w.rollbackRun?.state ?? '') || run?.kind !== 'patch' || !run.runId) return undefined;
  const what = w.rollbackRun!.state === NOTHING_TO_ROLL_BACK ? 'Fix the failed dossiers (none was changed)' : 'Fix the rolled-back dossiers';
  return { text: `${what}, then patch them again inside a window${notStartedText(run)}`, command: `${cmd('patch retry', w.target)} --run ${run.runId}` };
}

/** A patch run stopped by --max-failures or its supervisor: its retry also takes the dossiers it did not start (they are said, not a second step). */
function notStartedText(run: WindowRun): string {
  if (run.kind !== 'patch' || !run.notStarted) return '';
  return `; the retry also takes the ${run.notStarted} dossier(s) the patch run did not start (${notStartedWhy(run)})`;
}

/** Why a patch run did not start dossiers, in `maintenance status`'s words. */
function notStartedWhy(run: WindowRun): string {
  return run.supervisorFailed ? 'its supervisor failed' : '--max-failures stopped it';
}

/** Which dossiers a rollback restored (the first of them, by code), the rest counted. */
/** The codes a rollback run restored (': A, B and 3 more'), '' when it names none; markdown-escaped for the Web UI. */
export function restoredCodesText(r: Pick<WindowRun, 'codes' | 'restored'>, markdown = true): string {
  const codes = r.codes ?? [];
  if (!codes.length) return '';
  const more = (r.restored ?? 0) - codes.length;
  return `: ${codes.map((c) => (markdown ? escapeMarkdown(c) : c)).join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

function runLine(r: WindowRun, namespace: string): string {
  const what = r.kind === 'backup' ? 'backup batch' : r.kind === 'rollback' ? 'rollback run' : 'patch run';
  const id = `${what}${r.runId ? ` ${escapeMarkdown(r.runId)}` : ''} ${codeSpan(r.workflowId)}`;
  const link = `[open](/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(r.workflowId)})`;
  return `${id} ${link}${r.state ? `: **${escapeMarkdown(r.state)}**` : ''}`;
}

/** What the gate tells users, from the window's phase (R-MW-4, R-MW-5, R-MW-6), as `maintenance status` names it. */
function gateText(w: Pick<WindowFacts, 'state' | 'phase'>): string {
  const gate: GateState = w.state === 'in_progress' ? 'closed' : w.state === 'scheduled' ? 'announced' : 'open';
  const what = w.phase === 'blocking_logins' ? 'new logins refused, open sessions go on' : gate === 'announced' ? 'logins accepted with a warning' : gate === 'closed' ? 'logins refused' : 'access given back';
  return `Gate: **${gate}** (${what})`;
}

/**
 * The window's failure as `maintenance status` says it: while failed, and kept once the window was cancelled or
 * reopened after it (R-MW-10, R-MW-12), with its dossiers; the advice to reopen goes once it no longer holds.
 */
function failureBlocks(w: WindowFacts): string[] {
  const failure = w.failure ?? w.reopenedAfter;
  if (failure === undefined) return [];
  const failed = w.phase === 'failed';
  const lead = failed ? 'Failure' : w.failure !== undefined ? 'Cancelled after a failure' : 'Reopened by the operator after a failure (R-MW-10)';
  const failures = (w.failures ?? []).slice(-DETAILS_FAILURES_SHOWN);
  const total = Math.max(w.failuresTotal ?? failures.length, failures.length);
  // the failure alone (no dossier, no check named: its type as code) is said in one line, with its type
  const only = total === 1 && failures[0]?.error === failure ? failures[0] : undefined;
  const blocks = [`${lead}${only ? ` (${escapeMarkdown(only.code)})` : ''}: ${escapeMarkdown(oneLine(failed ? failure : failureReason(failure)))}`];
  if (failures.length && !only) blocks.push(failuresBlock(failures, total));
  return blocks;
}

/**
 * The current details: phase (FAILED first when the target is kept closed), the summary restated with
 * the current times (and when it ended), what the gate tells users, open sessions, the payload child and
 * the runs started by hand, the failure with its `- CODE: reason` lines (kept once cancelled or reopened),
 * the notification list, and the next step as a copyable command. A window refused before it existed says
 * only why.
 */
export function renderWindowDetails(w: WindowFacts, zone: string, namespace: string): string {
  const blocks: string[] = [];
  const failed = w.phase === 'failed' && w.refused === undefined;
  const head = `**${escapeMarkdown(w.type)}** maintenance on **${escapeMarkdown(w.target)}**: phase **${escapeMarkdown(w.phase)}**`;
  blocks.push(failed ? `**FAILED**: the target stays closed until reopen · ${head}` : head);
  // no window was made: its times would name one that never existed
  if (w.refused !== undefined) return [...blocks, `Not started: ${escapeMarkdown(oneLine(w.refused))}`].join('\n\n');
  const ended = windowEndedText(w, zone);
  blocks.push(escapeMarkdown(windowSummary(w, zone)) + (ended ? ` · **${escapeMarkdown(ended)}**` : ''));
  if (w.phase !== 'starting') blocks.push(gateText(w));
  if (w.completedEarly) blocks.push(escapeMarkdown(`${COMPLETED_EARLY[0]!.toUpperCase()}${COMPLETED_EARLY.slice(1)}`));
  if (w.openSessions !== null) {
    blocks.push(`Open sessions: **${w.openSessions}**` + (w.sessionsToClose ? ` (${w.sessionsToClose} ordered to close)` : '') + (w.forcedSessions ? `, ${w.forcedSessions} closed by force` : ''));
  }
  if (w.payloadRun) blocks.push(`Payload: ${runLine(w.payloadRun, namespace)}`);
  else if (w.cutoffReached) {
    blocks.push(`Payload: ${escapeMarkdown(w.payload.kind)} **not started** (cutoff): ${escapeMarkdown(cutoffReachedText(w.cutoffReached).replace(/^payload not started: /, ''))}; access given back without it`);
  } else blocks.push(`Payload: ${escapeMarkdown(w.payload.kind)}`);
  if (w.cutoffSeconds !== undefined && w.payload.kind !== 'none' && !w.cutoffReached) {
    blocks.push(`Cutoff: ${escapeMarkdown(cutoffText(w.cutoffSeconds))} (the payload is not started with less than that left before the planned end)`);
  }
  if (w.payload.maxFailures) blocks.push(`Max failures: ${escapeMarkdown(payloadMaxFailuresText(w.payload.maxFailures))}`);
  if (w.overrun) {
    const f = formatDateTime(new Date(w.overrun.at), zone);
    const mailed = w.overrun.mailed ? '; --notify told' : '';
    const sessions = w.overrun.during === 'closing_sessions';
    blocks.push(
      w.state === 'in_progress'
        ? `**OVERRUNNING**: the planned end passed at ${escapeMarkdown(`${f.date} ${f.time}`)} while ${sessions ? 'its sessions were being closed (payload not started yet)' : 'the payload runs'}; logins still refused until it has ended${mailed}`
        : `Overran its planned end (${escapeMarkdown(`${f.date} ${f.time}`)}) while ${sessions ? 'its sessions were being closed' : 'the payload ran'}${mailed}`,
    );
  }
  if (w.rollbackRun) {
    const n = w.rollbackRun.restored;
    blocks.push(`On failure: ${runLine(w.rollbackRun, namespace)}${n !== undefined ? ` · **${n}** failed dossier(s) rolled back to their restore point (R-PI-11)${restoredCodesText(w.rollbackRun)}` : ''}`);
  }
  if (w.linkedRuns?.length) blocks.push(['Started by hand in this window:', ...w.linkedRuns.map((r) => `- ${runLine(r, namespace)}`)].join('\n'));
  blocks.push(...failureBlocks(w));
  if (w.notify?.length) blocks.push(`Notify: ${escapeMarkdown(w.notify.join(', '))}`);
  for (const m of w.mailsRetrying ?? []) blocks.push(`**Mail not sent**: ${escapeMarkdown(mailRetryingText(m))}`);
  for (const step of windowNextSteps(w)) blocks.push(`${escapeMarkdown(step.text)}: ${codeSpan(step.command)}`);
  return blocks.join('\n\n');
}

/** R-MW-10 post-check problems as failures: `dossier CODE: reason` keeps its code, the rest are the check's. */
export function postCheckFailures(problems: string[]): DossierFailure[] {
  return capFailures(
    problems.map((p) => {
      const m = /^dossier (\S+): (.*)$/.exec(p);
      return m ? { code: m[1]!, status: 'post-check', error: m[2]! } : { code: 'PostCheckFailed', status: 'post-check', error: p };
    }),
  );
}

/** After a reopen, the payload's retry is still to run if its dossiers were not redone: the result says so. */
export function windowRetryCommand(w: Pick<WindowFacts, 'target' | 'payloadRun' | 'reopenedAfter' | 'phase'>): string | null {
  const run = w.payloadRun;
  if (!run?.runId || (run.state !== 'partial' && run.state !== 'failed')) return null;
  return `${cmd(`${run.kind} retry`, w.target)} --run ${run.runId}`;
}

/** A patch payload's `--max-failures`, as `maintenance status` and the window's details say it. */
export const payloadMaxFailuresText = (m: MaxFailures): string => `${maxFailuresText(m)} (the patch run stops starting dossiers once more have failed, AWS SSM MaxErrors)`;
