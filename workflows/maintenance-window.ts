import * as wf from '@temporalio/workflow';
import { workflowTime } from './clock';
import { ApplicationFailure, type ActivityOptions } from '@temporalio/common';
import { CLOSE_ACK_SECONDS, formatDateTime, type WindowState } from '../domain/maintenance';
import { applyEdit, editProblem, extendProblem } from '../domain/maintenance-input';
import { NightshiftKind, NightshiftPhase, NightshiftTarget } from './search-attributes';
import { activityCaller } from './activity-calls';
import {
  cancelMaintenanceUpdate,
  completeMaintenanceUpdate,
  editMaintenanceUpdate,
  extendMaintenanceUpdate,
  maintenanceStatusQuery,
  MaintenanceFailure,
  reopenMaintenanceUpdate,
  type MaintenanceEdit,
  type MaintenancePhase,
  type MaintenanceStatus,
  type MaintenanceWindowInput,
  type MaintenanceWindowResult,
} from './maintenance-window.api';
import { runTimestamp } from '../domain/patch';
import { PATCH_KIND, PATCH_WORKFLOW_TYPE, patchWorkflowId, type PatchIntegrationInput, type PatchRunResult } from './patch-integration.api';
import { FailureType } from '../domain/failures';
import { backupBatchWorkflow } from './backup-batch';
import { BACKUP_BATCH_KIND, backupBatchWorkflowId } from './backup-batch.api';

/**
 * Short database calls: retried until they pass (a dropped connection is transient). Every 5 s at most,
 * and 15 s per attempt, so that the forced close (R-MW-8) follows a database that comes back within
 * seconds instead of waiting out a long backoff or a hung attempt (issue 10: ~31 s late).
 */
const SHORT_DB = {
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 seconds' },
} as const satisfies ActivityOptions;
/** Post-checks: a database that keeps failing is a failed check, not an endless retry. */
const CHECKS = { startToCloseTimeout: '2 minutes', retry: { initialInterval: '2 seconds', maximumAttempts: 3 } } as const satisfies ActivityOptions;
/** Mail: a few attempts with backoff; never fails the window (R-MW-10). */
const MAIL = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 3, maximumAttempts: 4 },
} as const satisfies ActivityOptions;

/** Runs an activity with a summary shown in the Temporal UI. */
const call = activityCaller(SHORT_DB);

const invalid = (message: string) => ApplicationFailure.create({ type: FailureType.InvalidInput, message, nonRetryable: true });

/** Search attributes for a payload child, only when the window got its own (the time-skipping server has none). */
function childAttributes(target: string, kind: string, phase: string) {
  if (wf.workflowInfo().typedSearchAttributes.get(NightshiftKind) === undefined) return undefined;
  return [
    { key: NightshiftTarget, value: target },
    { key: NightshiftKind, value: kind },
    { key: NightshiftPhase, value: phase },
  ];
}

/** The window's failure (R-MW-10) shows the child's own reason and type, not "child workflow failed". */
function payloadFailure(kind: string, fallback: FailureType) {
  return (err: unknown): never => {
    if (wf.isCancellation(err)) throw err;
    let e: unknown = err;
    while (e instanceof Error && e.cause) e = e.cause;
    const type = e instanceof ApplicationFailure && e.type ? e.type : fallback;
    throw ApplicationFailure.create({ type, nonRetryable: true, message: `${kind} payload: ${e instanceof Error ? e.message : String(e)}` });
  };
}

/** R-MW-9 payload `patch`: the integration runs as a child; a refused, failed or partial run fails the window (R-MW-10). */
async function patchPayload(target: string, dir: string | undefined): Promise<void> {
  if (!dir) throw invalid('payload patch needs the directory of patch packages (payload.manifest)');
  const parentId = wf.workflowInfo().workflowId;
  const r = await wf
    .executeChild<(i: PatchIntegrationInput) => Promise<PatchRunResult>>(PATCH_WORKFLOW_TYPE, {
      workflowId: patchWorkflowId(target, runTimestamp(new Date())),
      args: [{ target, mode: 'integrate', dir, windowWorkflowId: parentId }],
      staticSummary: `patch payload of ${parentId}`,
      typedSearchAttributes: childAttributes(target, PATCH_KIND, 'starting'),
    })
    .catch(payloadFailure('patch', FailureType.PatchRunFailed));
  if (r.state !== 'completed') {
    throw ApplicationFailure.create({
      type: FailureType.PatchRunPartial,
      nonRetryable: true,
      message: `patch run ${r.runId}: ${r.failed} dossier(s) failed (${r.failures.map((f) => f.code).join(', ')}): "nightshift patch retry", then reopen`,
    });
  }
}

/**
 * R-MW-9 payload `backup`: the backup batch (R-BK) runs as a child, restricted to `dossiers` when given;
 * a refused run, or one that leaves a dossier not backed up (partial, failed), fails the window (R-MW-10).
 */
async function backupPayload(target: string, dossiers: string[] | undefined): Promise<void> {
  const parentId = wf.workflowInfo().workflowId;
  const r = await wf
    .executeChild(backupBatchWorkflow, {
      workflowId: backupBatchWorkflowId(target, runTimestamp(new Date())),
      args: [{ target, only: dossiers, trigger: 'manual' }],
      staticSummary: `backup payload of ${parentId}`,
      typedSearchAttributes: childAttributes(target, BACKUP_BATCH_KIND, 'claiming'),
    })
    .catch(payloadFailure('backup', FailureType.BackupRunFailed));
  if (r.state !== 'completed') {
    throw ApplicationFailure.create({
      type: FailureType.BackupRunIncomplete,
      nonRetryable: true,
      message:
        `backup run ${r.runId} ${r.state}: ${r.total - r.ok} of ${r.total} dossier(s) not backed up (report: ${r.reportPath ?? 'none'}): ` +
        `"nightshift backup retry --target ${target} --run ${r.runId}", then reopen`,
    });
  }
}

export async function maintenanceWindowWorkflow(input: MaintenanceWindowInput): Promise<MaintenanceWindowResult> {
  const info = wf.workflowInfo();
  const tz = input.displayTimeZone ?? 'UTC';
  const s: MaintenanceStatus = {
    target: input.target,
    workflowId: info.workflowId,
    type: input.type,
    state: 'scheduled',
    phase: 'starting',
    startsAt: input.startsAt,
    endsAt: input.endsAt,
    preventLoginsFrom: input.preventLoginsFrom,
    message: input.message,
    payload: input.payload,
    graceSeconds: input.graceSeconds,
    startWhenDrained: input.startWhenDrained,
    dbDrain: input.dbDrain,
    notify: input.notify,
    openSessions: null,
    sessionsToClose: null,
    forcedSessions: 0,
    terminatedBackends: 0,
    phases: [],
  };
  // Search attributes are set by the starter when the server has them registered (the dev server,
  // production); the time-skipping test server has none, so the workflow only upserts what it was given.
  const searchAttributes = info.typedSearchAttributes.get(NightshiftKind) !== undefined;

  let cancelRequested = false;
  let completeRequested = false;
  let reopenRequested = false;
  /** Bumped by every edit/extend: timers waiting on the old times wake up and recompute. */
  let version = 0;
  /** Past this point edits are refused: the start transition is under way. */
  let started = false;
  let finishing = false;

  // Row writes go one after another, each built from the latest state, so a slow write never lands
  // after a newer one.
  let writes: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = writes.then(fn);
    writes = p.catch(() => undefined);
    return p;
  };
  const windowId = wf.uuid4();
  const isFinal = () => s.state === 'completed' || s.state === 'cancelled';

  function details(): void {
    const a = formatDateTime(new Date(s.startsAt), tz);
    const b = formatDateTime(new Date(s.endsAt), tz);
    const sessions = s.openSessions === null ? '' : `\nopen sessions: **${s.openSessions}**` + (s.sessionsToClose ? ` (${s.sessionsToClose} told to close)` : '');
    wf.setCurrentDetails(
      `**${s.type}** maintenance on **${s.target}**: phase **${s.phase}**\n${a.date} ${a.time} → ${b.date} ${b.time} (${tz})` +
        `\npayload: ${s.payload.kind}` +
        sessions +
        (s.failure ? `\nfailure: ${s.failure}` : ''),
    );
  }

  function enter(phase: MaintenancePhase): void {
    if (s.phase === phase) return;
    s.phase = phase;
    s.phases.push({ phase, at: new Date().toISOString() });
    if (searchAttributes) {
      wf.upsertSearchAttributes([
        { key: NightshiftTarget, value: s.target },
        { key: NightshiftKind, value: 'maintenance' },
        { key: NightshiftPhase, value: phase },
      ]);
    }
    details();
  }

  /** Phase (and state) in memory and in the row the gate reads. */
  async function persist(phase: MaintenancePhase, state: WindowState = s.state): Promise<void> {
    // Row first: an update that waits for a final state returns only once the gate sees it.
    await serial(() => call('setMaintenanceWindowState', `${s.target}: ${state} / ${phase}`, SHORT_DB, { target: s.target, windowId, state, phase }));
    s.state = state;
    enter(phase);
  }

  const writeRow = () =>
    serial(() =>
      call('updateMaintenanceWindow', `${s.target}: window times`, SHORT_DB, {
        target: s.target,
        windowId,
        type: s.type,
        startsAt: s.startsAt,
        endsAt: s.endsAt,
        preventLoginsFrom: s.preventLoginsFrom,
        message: s.message,
      }),
    );

  const waitFinal = async () => {
    await wf.condition(() => isFinal() || s.phase === 'failed');
    return { ...s };
  };

  wf.setHandler(maintenanceStatusQuery, () => ({ ...s, phases: [...s.phases] }));

  wf.setHandler(
    editMaintenanceUpdate,
    async (edit: MaintenanceEdit) => {
      Object.assign(s, applyEdit(s, edit));
      version++;
      details();
      await writeRow();
      return { ...s };
    },
    {
      validator: (edit) => {
        if (s.state !== 'scheduled' || started) throw invalid(`only a scheduled window can be edited (this one is ${s.phase}); use extend or cancel`);
        const problem = editProblem(s, edit, workflowTime());
        if (problem) throw invalid(problem);
      },
    },
  );

  wf.setHandler(
    extendMaintenanceUpdate,
    async ({ endsAt }) => {
      s.endsAt = new Date(Date.parse(endsAt)).toISOString();
      version++;
      details();
      await writeRow();
      return { ...s };
    },
    {
      validator: (ext) => {
        if (s.state !== 'in_progress' || finishing) throw invalid(`only a window in progress can be extended (this one is ${s.phase}); edit a scheduled one`);
        const problem = extendProblem(s, ext, workflowTime());
        if (problem) throw invalid(problem);
      },
    },
  );

  wf.setHandler(
    cancelMaintenanceUpdate,
    async () => {
      cancelRequested = true;
      await wf.condition(isFinal);
      return { ...s };
    },
    {
      validator: () => {
        if (isFinal() || finishing) throw invalid(`the window is already ${s.phase}`);
      },
    },
  );

  wf.setHandler(
    completeMaintenanceUpdate,
    async () => {
      completeRequested = true;
      return waitFinal();
    },
    {
      validator: () => {
        if (s.payload.kind !== 'none') throw invalid(`a window with payload ${s.payload.kind} completes by itself`);
        if (s.state !== 'in_progress') throw invalid(`only a window in progress can be completed (this one is ${s.phase}); cancel a scheduled one`);
        if (s.phase === 'failed') throw invalid('the window failed: fix the problem, then reopen');
        if (finishing || completeRequested) throw invalid(`the window is already ${s.phase}`);
      },
    },
  );

  wf.setHandler(
    reopenMaintenanceUpdate,
    async () => {
      reopenRequested = true;
      await wf.condition(isFinal);
      return { ...s };
    },
    {
      validator: () => {
        if (s.phase !== 'failed') throw invalid(`only a failed window can be reopened (this one is ${s.phase})`);
      },
    },
  );

  details();
  await call('insertMaintenanceWindow', `${input.target}: insert the window`, SHORT_DB, { windowId, workflowId: info.workflowId, input });
  s.windowId = windowId;
  enter('scheduled');

  const result = async (mailSent: boolean): Promise<MaintenanceWindowResult> => {
    await wf.condition(wf.allHandlersFinished);
    return { status: { ...s, phases: [...s.phases] }, mailSent };
  };

  // --- Scheduled: announced by the gate from the row (R-MW-4); early login block (R-MW-5).
  for (;;) {
    if (cancelRequested) {
      finishing = true;
      await persist('cancelled', 'cancelled');
      return result(false);
    }
    const now = workflowTime();
    const start = Date.parse(s.startsAt);
    if (now >= start) break;
    const blockAt = s.preventLoginsFrom ? Date.parse(s.preventLoginsFrom) : undefined;
    if (blockAt !== undefined && now >= blockAt) {
      if (s.phase !== 'blocking_logins') await persist('blocking_logins');
    } else if (s.phase === 'blocking_logins') {
      await persist('scheduled');
    }
    const next = blockAt !== undefined && blockAt > now ? Math.min(blockAt, start) : start;
    const v = version;
    await wf.condition(() => version !== v || cancelRequested, Math.max(1, next - now), {
      summary: next === start ? 'until the start' : 'until logins are blocked',
    });
  }

  // --- In progress: logins refused (the gate reads the clock and the row), sessions told to close.
  started = true;
  await serial(async () => undefined);
  await persist('closing_sessions', 'in_progress');

  const restoreAccess = async () => {
    if (s.dbAccess) await call('restoreDatabaseAccess', `${s.target}: give database access back`, SHORT_DB, { target: s.target, snapshot: s.dbAccess });
  };

  const abort = async (): Promise<MaintenanceWindowResult> => {
    finishing = true;
    await restoreAccess();
    await persist('cancelled', 'cancelled');
    return result(await notify('cancelled'));
  };

  const notify = async (kind: 'completed' | 'cancelled' | 'failed'): Promise<boolean> => {
    if (!s.notify.length) return false;
    try {
      const r = await call('sendMaintenanceMail', `${s.target}: e-mail (${kind}) to ${s.notify.length} address(es)`, MAIL, {
        target: s.target,
        mail: { kind, to: s.notify, type: s.type, startsAt: s.startsAt, endsAt: s.endsAt, failure: s.failure },
      });
      return r.sent;
    } catch (err) {
      wf.log.warn('maintenance e-mail not sent', { error: String(err) });
      return false;
    }
  };

  const sessionsStep = async (closeAll = false) => {
    const step = await call('closeSessionsStep', closeAll ? `${s.target}: close every session left` : `${s.target}: order / force sessions`, SHORT_DB, {
      target: s.target,
      cutoff: new Date().toISOString(),
      closeAll,
    });
    s.openSessions = step.live;
    s.sessionsToClose = step.pendingOrders;
    s.forcedSessions += step.forced;
    details();
    return step;
  };

  if (s.dbDrain) {
    s.dbAccess = await call('snapshotDatabaseAccess', `${s.target}: read database access`, SHORT_DB, { target: s.target });
    await call('revokeDatabaseAccess', `${s.target}: refuse new database connections`, SHORT_DB, { target: s.target, snapshot: s.dbAccess });
  }

  // R-MW-7: every live session is told now and forced CLOSE_ACK_SECONDS later. The timer starts after
  // the orders are written, so the workflow's cutoff is never before the orders' close_by.
  let step = await sessionsStep();
  const workAt = Date.parse(s.startsAt) + s.graceSeconds * 1000;
  let first = true;
  for (;;) {
    if (cancelRequested) return abort();
    if (completeRequested) break;
    const now = workflowTime();
    if (step.live === 0 && (s.startWhenDrained || now >= workAt)) break;
    if (!first && now >= workAt) break;
    let wait: number;
    if (step.live === 0) wait = workAt - now;
    else if (first) wait = CLOSE_ACK_SECONDS * 1000;
    else if (step.nextCloseBy) wait = Math.min(CLOSE_ACK_SECONDS * 1000, Math.max(1000, Date.parse(step.nextCloseBy) - now));
    else wait = CLOSE_ACK_SECONDS * 1000;
    if (!first || step.live === 0) wait = Math.min(wait, workAt - now);
    const timedOut = !(await wf.condition(() => cancelRequested || completeRequested, Math.max(1, wait), {
      summary: first && step.live > 0 ? `${CLOSE_ACK_SECONDS} s to acknowledge the close order` : 'drain grace',
    }));
    if (!timedOut) continue;
    step = await sessionsStep();
    if (first) {
      first = false;
      await persist('draining');
    }
  }
  if (cancelRequested) return abort();
  // R-MW-8: whoever is left at the end of the grace is closed, with its database connections.
  if (step.live > 0) await sessionsStep(true);
  if (s.dbAccess) {
    s.terminatedBackends += await call('terminateOtherBackends', `${s.target}: end remaining database connections`, SHORT_DB, { target: s.target });
  }

  // --- The work (R-MW-9), then post-checks (R-MW-10).
  try {
    await persist('working');
    if (s.payload.kind === 'patch') await patchPayload(s.target, s.payload.manifest);
    else if (s.payload.kind === 'backup') await backupPayload(s.target, s.payload.dossiers);
    for (;;) {
      if (cancelRequested || completeRequested || s.payload.kind !== 'none') break;
      const now = workflowTime();
      const end = Date.parse(s.endsAt);
      if (now >= end) break;
      const v = version;
      await wf.condition(() => cancelRequested || completeRequested || version !== v, end - now, { summary: 'until "complete" or the end' });
    }
    if (cancelRequested) return abort();
    finishing = true;
    await persist('checking');
    let checks: { ok: boolean; problems: string[] };
    try {
      checks = await call('runPostChecks', `${s.target}: post-checks`, CHECKS, { target: s.target });
    } catch (err) {
      checks = { ok: false, problems: [`the target database does not answer: ${err instanceof Error ? err.message : String(err)}`] };
    }
    if (!checks.ok) {
      throw ApplicationFailure.create({ type: MaintenanceFailure.PostCheckFailed, nonRetryable: true, message: checks.problems.join('; ') });
    }
  } catch (err) {
    if (wf.isCancellation(err)) throw err;
    // R-MW-10: the target stays closed (state in_progress) until the operator reopens or cancels.
    s.failure = err instanceof Error ? err.message : String(err);
    finishing = false;
    await persist('failed');
    await notify('failed');
    await wf.condition(() => reopenRequested || cancelRequested);
    if (cancelRequested) return abort();
  }

  finishing = true;
  await persist('restoring');
  await restoreAccess();
  await persist('completed', 'completed');
  return result(await notify('completed'));
}
