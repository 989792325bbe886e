import * as wf from '@temporalio/workflow';
import { Mutex } from 'async-mutex';
import { workflowTime } from './clock';
import { ApplicationFailure, defineSearchAttributeKey, SearchAttributeType, type ActivityOptions } from '@temporalio/common';
import { CLOSE_ACK_SECONDS, type WindowState } from '../domain/maintenance';
import { applyEdit, editProblem, extendProblem } from '../domain/maintenance-input';
import { occurrenceInput, parseRecurScheduleId } from '../domain/maintenance-recur';
import type { MaintenanceMail, MaintenanceMailKind } from '../domain/maintenance-text';
import { NOTHING_TO_ROLL_BACK, postCheckFailures, renderWindowDetails, ROLLED_BACK_STATES, windowNextSteps, windowOutcome, windowRetryCommand, type WindowRun } from '../domain/maintenance-details';
import { capFailures, mergeFailures, oneLine, type DossierFailure } from '../domain/run-details';
import type { NightshiftActivities } from '../workers/activities';
import { NightshiftKind, nightshiftAttributes } from './search-attributes';
import { executeBackupBatchChild, executePatchRollbackChild, executePatchRunChild, startMaintenanceMailChild } from './child-starts';
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
  type MaintenanceMailInput,
  maintenanceMailWorkflowId,
  type MaintenancePhase,
  type MaintenanceStatus,
  type MaintenanceWindowInput,
  type MaintenanceWindowResult,
  type OverrunDuring,
} from './maintenance-window.api';
import { workflowIdTimestamp } from '../domain/workflow-id';
import { patchRetryCommand, partialPatchResult, patchWorkflowId, supervisorFailureOf } from './patch-integration.api';
import { partialRollbackResult, patchRollbackWorkflowId } from './patch-rollback.api';
import { FailureType, failureTypeOf, innermostMessage } from '../domain/failures';
import { patchRunStatusCommand } from '../domain/patch';
import { backupBatchWorkflowId, backupRetryCommand } from './backup-batch.api';

/**
 * The maintenance window (R-MW-1 … R-MW-12) as a small state machine over ONE state object:
 *
 *   announce (scheduled, early block) → close orders → drain → payload → checks → restore → notify
 *                                                                   ↘ failed (closed until reopen) ↗
 *
 * Each phase is a method of MaintenanceWindow; the operator's updates are validated handlers that only
 * change that state (requests, times) and write the row; the phases read it. Row writes go through one
 * lock (temporalio/samples-typescript `safe-message-handlers`), each built from the latest state, so a
 * slow write never lands after a newer one. The run ends after `allHandlersFinished`.
 */

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
/**
 * A patch payload read before the start: a folder of large packages on a share may take minutes. A package problem
 * is non-retryable and ends the window at once; what is retried (an I/O error, the database, a worker of an older
 * release that lacks the activity: drill U, a rolling upgrade) is tried again for up to 10 minutes, not 3 times.
 */
const PAYLOAD_READ = {
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const satisfies ActivityOptions;
/** Mail: a few attempts with backoff; never fails the window (R-MW-10). */
const MAIL = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 3, maximumAttempts: 4 },
} as const satisfies ActivityOptions;

/**
 * R-MW-10: a --notify mail the window could not send in its own attempts, retried by its own workflow (the window does
 * not wait for it: the next window of the target is not held up): every 30 s at first, then every 10 min, for a day.
 */
const MAIL_HANDED_OFF = {
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '30 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
} as const satisfies ActivityOptions;
/** Histories recorded before a mail not sent was handed to its own workflow (it was only logged) replay so. */
const MAIL_HANDOFF_PATCH = 'maintenance-window-mail-handed-off';

/** Runs an activity with a summary shown in the Temporal UI. */
const call = activityCaller(SHORT_DB);

const invalid = (message: string) => ApplicationFailure.create({ type: FailureType.InvalidInput, message, nonRetryable: true });

/** The payload's own result when its failure carries it (a backup batch that ends partial fails with its result in details[0]). */
interface PayloadResult {
  runId?: number;
  state?: string;
  total?: number;
  ok?: number;
  reportPath?: string | null;
  failures?: { code: string; status?: string; patch?: number; error: string }[];
  failuresTotal?: number;
  /** a patch run --max-failures stopped */
  stopped?: { notStarted?: number };
}
function resultInFailure(err: unknown): PayloadResult | undefined {
  for (let e: unknown = err, i = 0; e instanceof Error && i < 6; e = e.cause, i++) {
    const d = e instanceof ApplicationFailure ? (e.details?.[0] as { runId?: unknown } | undefined) : undefined;
    if (d && typeof d === 'object' && typeof d.runId === 'number') return d as PayloadResult;
  }
  return undefined;
}

/** The window's failure (R-MW-10) shows the child's own reason and type, not "child workflow failed". */
function payloadFailure(kind: string, fallback: FailureType, err: unknown): ApplicationFailure {
  let e: unknown = err;
  while (e instanceof Error && e.cause) e = e.cause;
  const type = e instanceof ApplicationFailure && e.type ? e.type : fallback;
  return ApplicationFailure.create({ type, nonRetryable: true, message: `${kind} payload: ${e instanceof Error ? e.message : String(e)}` });
}

/** R-MW-10: a backup payload that left dossiers not backed up (returned partial, or failed carrying its result). */
function backupIncomplete(target: string, r: PayloadResult): ApplicationFailure {
  const total = r.total ?? 0;
  const notDone = total - (r.ok ?? 0);
  return ApplicationFailure.create({
    type: FailureType.BackupRunIncomplete,
    nonRetryable: true,
    message:
      `backup run ${r.runId} ${r.state}: ${notDone} of ${total} dossier(s) not backed up (report: ${r.reportPath ?? 'none'}): ` +
      `"${r.runId !== undefined ? backupRetryCommand(target, r.runId) : `nightshift backup retry --target ${target}`}", then reopen`,
  });
}

/** A payload's dossier failures as the window carries them (`CODE: reason`, capped). */
function dossierFailures(failures: { code: string; status?: string; patch?: number; error: string }[] | undefined): DossierFailure[] {
  // the patch named once: an engine message that names it already ("patch 5 failed in dossier …") is not prefixed again
  const named = (f: { patch?: number; error: string }) => f.patch === undefined || f.error.startsWith(`patch ${f.patch} `);
  return capFailures((failures ?? []).map((f) => ({ code: f.code, status: f.status ?? 'failed', error: named(f) ? f.error : `patch ${f.patch}: ${f.error}` })));
}

/** Histories recorded before a window could roll its failed dossiers back (R-PI-11) replay without the rollback child. */
const ON_FAILURE_ROLLBACK_PATCH = 'window-on-failure-rollback';
/** A failed post-check's failure, said as such (R-MW-10): not read as the payload's. */
const POST_CHECKS_FAILED = 'post-checks: ';
/** Histories recorded before a refused database drain failed the window (it failed the workflow) replay so. */
const DRAIN_REFUSED_PATCH = 'window-drain-refused-fails-window';
/** Histories recorded before a rollback with nothing to undo (no failed dossier was touched) let the window go on replay failing it. */
const NOTHING_TO_ROLL_BACK_PATCH = 'window-rollback-nothing-to-undo';

/** Histories recorded before a window rolled back a supervisor that failed (R-PI-11 `onFailure: rollback`) replay failing the window. */
const SUPERVISOR_ROLLBACK_PATCH = 'window-supervisor-failure-rollback';
/** Histories recorded before the window linked the runs started by hand in it replay without the ledger reads. */
const LINKS_PATCH = 'maintenance-window-links';
/** R-PI-2: access comes back only once the runs started by hand in the window have ended (single-user mode). */
const HAND_RUNS_PATCH = 'maintenance-window-waits-hand-runs';
/** Histories recorded before a failed window waited for (and linked) the runs started by hand in it replay without the wait. */
const FAILED_HAND_RUNS_PATCH = 'maintenance-window-failed-waits-hand-runs';
/** Histories recorded before a refused window said so (phase failed, the reason on top of its failure) replay without the upsert. */
const REFUSED_PATCH = 'maintenance-window-refused-says-why';
/** Histories recorded before a patch payload was read before the start replay without that activity. */
const PAYLOAD_READ_FIRST_PATCH = 'maintenance-window-reads-patch-payload-first';
/**
 * R-MW-7 over R-MW-8: past a drain grace shorter than a session's deadline (15 s from the order it was told, or an untold
 * one's heartbeat interval + 15 s), the drain waits for that deadline instead of closing it early (drill M, session 37:
 * `--grace 15s` forced a session never told, `--grace 20s` one told 2 s before). Older histories replay without the wait.
 */
const GRACE_KEEPS_DEADLINES_PATCH = 'maintenance-window-grace-keeps-close-deadlines';
/**
 * R-MW-7 past the grace: the drain keeps stepping while live sessions have deadlines, each forced at its own, until the
 * latest of them (plus CLOSE_ACK_SECONDS of slack) has passed. Histories recorded before it waited only while the earliest
 * deadline was still ahead: once that one had just passed since the step, every later session was forced at once, up to
 * 0.6 s before its deadline on a loaded machine (CI, session 37).
 */
const EACH_AT_ITS_DEADLINE_PATCH = 'maintenance-window-past-grace-each-at-its-deadline';
/**
 * Histories recorded before a cancel asked while the payload ran ended the window as that cancel when the payload then
 * failed replay with the failure first (drill W: an ÉCHEC alert with a reopen advice, then the cancel mail 0.2 s later).
 */
const CANCEL_BEFORE_FAILURE_PATCH = 'maintenance-window-cancel-asked-before-failure';
/** Histories recorded before a refused occurrence of a recurring window mailed its --notify (drill W: nobody was told) replay without the mail. */
const RECUR_REFUSED_MAIL_PATCH = 'maintenance-window-refused-occurrence-mailed';
/** Histories recorded before an occurrence's start was its announcement + announce-ahead on the wall clock replay in absolute time. */
const RECUR_WALL_CLOCK_PATCH = 'maintenance-window-occurrence-wall-clock';
/** SSM's cutoff: a payload not started with less than the cutoff left before the planned end (inputs before it had none). */
const CUTOFF_PATCH = 'maintenance-window-cutoff';
/** Histories recorded before the window mailed --notify when its planned end passed while its payload ran replay without that timer. */
const OVERRUN_MAIL_PATCH = 'maintenance-window-overrun-mail';
/**
 * Histories recorded before the overrun watch began with the window (the planned end passing while its sessions were
 * being closed was mailed at the payload's start, without the payload's line) replay with the watch from the payload.
 */
const OVERRUN_FROM_START_PATCH = 'maintenance-window-overrun-watch-from-start';
/** Histories recorded before a `complete` said during the session closing gave access back at once (it forced every session first) replay so. */
const COMPLETE_EARLY_PATCH = 'maintenance-window-complete-before-work';
/** Histories recorded before an edit's answer waited for the login block it moved to be applied (the CLI read the phase again) replay so. */
const EDIT_ANSWERS_APPLIED_PATCH = 'maintenance-window-edit-answers-applied';
/**
 * How often a window whose work is done by hand looks for runs started in it (one local activity and one
 * timer, ~6.5 history events): every 30 s for the first half hour, then every 2 min, so that a night-long
 * window stays far below the history limits (measured: 60 min of work 512 events, 8 h 1,772; 782 for 60 min at 30 s throughout).
 */
const linkPollMs = (workedMs: number): number => (workedMs < 30 * 60_000 ? 30_000 : 120_000);
/** Ledger reads for the links: local (one marker event each), short. */
const { runsInWindow } = wf.proxyLocalActivities<NightshiftActivities>({ startToCloseTimeout: '10 seconds', retry: { maximumAttempts: 3 } });

/** The one state object: what the operator sees (status) and what the updates ask of the phases. */
interface WindowControl {
  status: MaintenanceStatus;
  /** Operator requests, set by the update handlers, acted on by the phase that runs. */
  requested: { cancel: boolean; complete: boolean; reopen: boolean };
  /** Bumped by every edit/extend: waits computed from the old times wake up and recompute. */
  version: number;
  /** The version whose login block (R-MW-5) the scheduled window has applied: an edit answers once it is applied. */
  announced: number;
  /** Past this point edits are refused: the start transition is under way. */
  started: boolean;
  /** Checks, restore or cancellation under way: no extend, complete or cancel any more. */
  finishing: boolean;
}

/** What one pass over the sessions found (activities/maintenance.ts closeSessionsStep). */
interface SessionsSeen {
  live: number;
  nextCloseBy: string | null;
  /** absent from steps recorded before it was read */
  lastCloseBy?: string | null;
}

class MaintenanceWindow {
  private readonly w: WindowControl;
  /** One row write at a time, each built from the latest state when it runs. */
  private readonly rowLock = new Mutex();
  private readonly windowId: string;
  /** Search attributes are upserted only when the starter set them (the time-skipping server has none). */
  private readonly searchAttributes: boolean;
  private readonly namespace: string;
  /**
   * The payload's own dossier failures and their count, kept apart from the window's `failures` (which a failed
   * post-check extends): the dossiers a rollback restored, the payload's dossiers not done, are said from these.
   */
  private payloadFailures?: DossierFailure[];
  private payloadFailuresTotal = 0;
  /** The overrun watch begun with the window in progress (its payload's planned end), stopped once the payload has ended. */
  private overrunWatch?: { stop: () => Promise<void> };

  constructor(
    private readonly input: MaintenanceWindowInput,
    private readonly tz = input.displayTimeZone ?? 'UTC',
  ) {
    const info = wf.workflowInfo();
    this.w = {
      status: {
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
        ...(input.cutoffSeconds !== undefined && { cutoffSeconds: input.cutoffSeconds }),
        openSessions: null,
        sessionsToClose: null,
        forcedSessions: 0,
        terminatedBackends: 0,
        phases: [],
      },
      requested: { cancel: false, complete: false, reopen: false },
      version: 0,
      announced: -1,
      started: false,
      finishing: false,
    };
    this.searchAttributes = info.typedSearchAttributes.get(NightshiftKind) !== undefined;
    this.namespace = info.namespace;
    this.windowId = wf.uuid4();
  }

  private get s(): MaintenanceStatus {
    return this.w.status;
  }

  private snapshot(): MaintenanceStatus {
    return { ...this.s, phases: [...this.s.phases] };
  }

  private isFinal(): boolean {
    return this.s.state === 'completed' || this.s.state === 'cancelled';
  }

  // ---- What the operator sees: current details, search attributes, the row.

  /** Rewritten from the state on every change: nothing stale stays (issue 12). */
  private details(): void {
    this.s.nextSteps = windowNextSteps(this.s);
    wf.setCurrentDetails(renderWindowDetails(this.s, this.tz, this.namespace));
  }

  private enter(phase: MaintenancePhase): void {
    if (this.s.phase === phase) return;
    this.s.phase = phase;
    this.s.phases.push({ phase, at: new Date().toISOString() });
    if (this.searchAttributes) {
      wf.upsertSearchAttributes(nightshiftAttributes({ target: this.s.target, kind: 'maintenance', phase }));
    }
    this.details();
  }

  /** Phase (and state) in the row the gate reads, then in memory: an update waiting for a final state returns once the gate sees it. */
  private async persist(phase: MaintenancePhase, state: WindowState = this.s.state): Promise<void> {
    // the final state carries what became of the window (maintenance list), and so does a failure: `maintenance status`
    // says it when no worker answers (R-OP-1); an activity argument, not a new command
    // (the state being written: a failed window cancelled said "failed: …" in the list, the state it was leaving)
    const outcome = state === 'completed' || state === 'cancelled' || phase === 'failed' ? windowOutcome({ ...this.s, state }) : undefined;
    await this.rowLock.runExclusive(() =>
      call('setMaintenanceWindowState', `${this.s.target}: ${state} / ${phase}`, SHORT_DB, {
        target: this.s.target,
        windowId: this.windowId,
        state,
        phase,
        ...(outcome !== undefined && { outcome }),
      }),
    );
    this.s.state = state;
    this.enter(phase);
  }

  /** The editable fields as they are when the write runs (R-MW-1, R-MW-11). */
  private writeTimes(): Promise<void> {
    return this.rowLock.runExclusive(() =>
      call('updateMaintenanceWindow', `${this.s.target}: window times`, SHORT_DB, {
        target: this.s.target,
        windowId: this.windowId,
        type: this.s.type,
        startsAt: this.s.startsAt,
        endsAt: this.s.endsAt,
        preventLoginsFrom: this.s.preventLoginsFrom,
        message: this.s.message,
        // null: removed by an edit (absent would leave the row's)
        ...(this.s.payload.kind !== 'none' && { cutoffSeconds: this.s.cutoffSeconds ?? null }),
      }),
    );
  }

  // ---- The operator's updates: validators say no before anything is written; handlers change the one state.

  registerHandlers(): void {
    const w = this.w;
    /** An operator request: the phase that runs acts on it; the update answers once `done` holds. */
    const request = (kind: keyof WindowControl['requested'], done: () => boolean) => async () => {
      w.requested[kind] = true;
      await wf.condition(done);
      return { ...this.s };
    };
    wf.setHandler(maintenanceStatusQuery, () => this.snapshot());

    wf.setHandler(
      editMaintenanceUpdate,
      async (edit: MaintenanceEdit) => {
        Object.assign(w.status, applyEdit(w.status, edit));
        const version = ++w.version;
        this.details();
        await this.writeTimes();
        // the phase answered is the one the gate acts on: the login block moved by the edit applied (or the start begun)
        if (wf.patched(EDIT_ANSWERS_APPLIED_PATCH)) await wf.condition(() => w.announced >= version || w.started || w.requested.cancel || this.s.state !== 'scheduled');
        return { ...this.s };
      },
      {
        validator: (edit) => {
          if (this.s.state !== 'scheduled' || w.started) throw invalid(`only a scheduled window can be edited (this one is ${this.s.state === 'scheduled' ? 'starting' : this.s.state.replace('_', ' ')}, phase ${this.s.phase}); use extend or cancel`);
          const problem = editProblem(this.s, edit, workflowTime());
          if (problem) throw invalid(problem);
        },
      },
    );

    wf.setHandler(
      extendMaintenanceUpdate,
      async ({ endsAt }) => {
        w.status.endsAt = new Date(Date.parse(endsAt)).toISOString();
        w.version++;
        this.details();
        await this.writeTimes();
        return { ...this.s };
      },
      {
        validator: (ext) => {
          if (this.s.state !== 'in_progress' || w.finishing) throw invalid(`only a window in progress can be extended (this one is ${this.s.phase}); edit a scheduled one`);
          const problem = extendProblem(this.s, ext, workflowTime());
          if (problem) throw invalid(problem);
        },
      },
    );

    wf.setHandler(
      cancelMaintenanceUpdate,
      request('cancel', () => this.isFinal()),
      {
        validator: () => {
          if (this.isFinal() || w.finishing) throw invalid(`the window is already ${this.s.phase}`);
        },
      },
    );

    wf.setHandler(
      completeMaintenanceUpdate,
      // the post-checks may fail: the answer then says so (phase failed)
      request('complete', () => this.isFinal() || this.s.phase === 'failed'),
      {
        validator: () => {
          // a failed window first: whatever its payload, reopen is what gives access back
          if (this.s.phase === 'failed') throw invalid('the window failed: fix the problem, then reopen');
          if (this.s.payload.kind !== 'none') throw invalid(`a window with payload ${this.s.payload.kind} completes by itself`);
          if (this.s.state !== 'in_progress') throw invalid(`only a window in progress can be completed (this one is ${this.s.phase}); cancel a scheduled one`);
          if (w.finishing || w.requested.complete) throw invalid(`the window is already ${this.s.phase}`);
        },
      },
    );

    wf.setHandler(
      reopenMaintenanceUpdate,
      request('reopen', () => this.isFinal()),
      {
        validator: () => {
          if (this.s.phase !== 'failed') throw invalid(`only a failed window can be reopened (this one is ${this.s.phase})`);
        },
      },
    );
  }

  // ---- The run: one phase after the other.

  async run(): Promise<MaintenanceWindowResult> {
    this.details();
    // `maintenance schedule` gave up on it and said "withdrawn, nothing was done": picked up this late, it keeps its word
    const within = this.input.pickupWithinSeconds;
    if (within !== undefined && workflowTime() - wf.workflowInfo().startTime.getTime() > within * 1000) {
      throw ApplicationFailure.create({
        type: FailureType.MaintenanceWindowWithdrawn,
        nonRetryable: true,
        message: `withdrawn: no worker picked this window up within ${within} s of its scheduling ('nightshift maintenance schedule' said so and gave up on it); nothing was done: schedule it again`,
      });
    }
    await this.rowLock
      .runExclusive(() =>
        call('insertMaintenanceWindow', `${this.input.target}: insert the window`, SHORT_DB, {
          windowId: this.windowId,
          workflowId: this.s.workflowId,
          input: this.input,
        }),
      )
      .catch(async (err: unknown) => {
        const refused = this.refused(err);
        // an occurrence of a recurring window refused (R-MW-2: another window of the target scheduled or open): its
        // --notify is told, or the nightly maintenance stops happening and nobody knows (drill W)
        if (this.input.recurrence && this.s.refused !== undefined && wf.patched(RECUR_REFUSED_MAIL_PATCH)) {
          this.s.failure = this.s.refused;
          await this.notify('cancelled', undefined, undefined, parseRecurScheduleId(this.input.recurrence.scheduleId)?.name ?? this.input.recurrence.scheduleId);
          delete this.s.failure;
        }
        throw refused;
      });
    this.s.windowId = this.windowId;
    this.enter('scheduled');

    if ((await this.announce()) === 'cancelled') {
      this.w.finishing = true;
      await this.persist('cancelled', 'cancelled');
      return this.result(false);
    }
    const unreadable = await this.payloadUnreadable();
    if (unreadable) return this.notStarted(unreadable);
    let seen: SessionsSeen;
    try {
      seen = await this.closeOrders();
    } catch (err) {
      // R-MW-8: a database drain that cannot be done (the Nightshift role would lock itself out) is the window's
      // failure, with a window to reopen or cancel (it used to fail the workflow and leave the target closed)
      if (wf.isCancellation(err) || failureTypeOf(err) !== FailureType.DbDrainRefused || !wf.patched(DRAIN_REFUSED_PATCH)) throw err;
      const refused = ApplicationFailure.create({ type: FailureType.DbDrainRefused, nonRetryable: true, message: `database drain (R-MW-8): ${innermostMessage(err)}` });
      if ((await this.failed(refused)) === 'cancelled') return this.abort();
      await this.restore();
      return this.result(await this.notify('completed'));
    }
    // the planned end may pass while the sessions are still being closed: watched from now, not from the payload's start
    if (this.s.payload.kind !== 'none' && wf.patched(OVERRUN_FROM_START_PATCH)) this.startOverrunWatch();
    seen = await this.drain(seen);
    if (this.w.requested.cancel) return this.abort();
    // R-MW-7: `complete` before the work began (sessions still being closed): access back as a cancel gives it, the
    // close orders withdrawn, nobody closed by force (tester A: sessions thrown out for nothing)
    if (this.w.requested.complete && wf.patched(COMPLETE_EARLY_PATCH)) return this.completeEarly();
    await this.closeTheRest(seen);
    try {
      await this.payload();
      if (this.w.requested.cancel) return this.abort();
      await this.checks();
    } catch (err) {
      if (wf.isCancellation(err)) throw err;
      // R-MW-12: a cancel asked while the payload ran is the window's end, its payload's outcome said in the cancel's one
      // mail (a payload run that ended partial or failed); no failure alert, no reopen to advise
      if (this.w.requested.cancel && wf.patched(CANCEL_BEFORE_FAILURE_PATCH)) return this.abortAfter(err);
      if ((await this.failed(err)) === 'cancelled') return this.abort();
    }
    await this.restore();
    return this.result(await this.notify('completed', undefined, this.rolledBack()));
  }

  /**
   * R-MW-2 (or an input the activity refuses): the window never existed, so no times and no reopen; the list's phase
   * says failed, the details "Not started: <reason>", and the workflow's failure carries the reason (and its type) on
   * top, where the Web UI shows it, rather than "Activity task failed".
   */
  private refused(err: unknown): unknown {
    if (wf.isCancellation(err) || !wf.patched(REFUSED_PATCH)) return err;
    this.s.refused = innermostMessage(err);
    this.enter('failed');
    return ApplicationFailure.create({
      type: failureTypeOf(err) ?? FailureType.InvalidInput,
      nonRetryable: true,
      message: this.s.refused,
      cause: err instanceof Error ? err : undefined,
    });
  }

  /**
   * A patch payload's packages, read on a worker at the start, before anything is closed (drill M: a mistyped
   * --patch-dir cut service, then failed the window, the target closed until reopen). Undefined when they read.
   */
  private async payloadUnreadable(): Promise<ApplicationFailure | undefined> {
    const p = this.s.payload;
    if ((p.kind !== 'patch' && p.kind !== 'backup+patch') || !p.manifest || !wf.patched(PAYLOAD_READ_FIRST_PATCH)) return undefined;
    try {
      await call('checkPatchPayload', `${this.s.target}: read the patch packages before closing anything`, PAYLOAD_READ, { target: this.s.target, dir: p.manifest });
      return undefined;
    } catch (err) {
      if (wf.isCancellation(err)) throw err;
      const type = failureTypeOf(err) ?? FailureType.PatchRunFailed;
      return ApplicationFailure.create({
        type,
        nonRetryable: true,
        // a package changed since it was integrated reads, and is refused (R-PI-8)
        message: `not started, access never cut: the ${p.kind} payload ${type === FailureType.ChecksumDrift ? 'is refused' : 'cannot be read'}: ${innermostMessage(err)}`,
      });
    }
  }

  /**
   * The window ends at its start without closing anything: cancelled, the reason kept (maintenance list/status, the
   * mail), and the workflow fails with it on top, where the Web UI shows it. Schedule a new window once it is fixed.
   */
  private async notStarted(reason: ApplicationFailure): Promise<never> {
    this.s.failure = reason.message;
    this.w.finishing = true;
    await this.persist('cancelled', 'cancelled');
    await this.notify('cancelled');
    await wf.condition(wf.allHandlersFinished);
    throw reason;
  }

  /** The result, once every update handler has returned (no update is left without an answer). */
  private async result(mailSent: boolean): Promise<MaintenanceWindowResult> {
    await wf.condition(wf.allHandlersFinished);
    return { status: this.snapshot(), mailSent, failures: this.s.failures ?? [], nextCommand: windowRetryCommand(this.s) };
  }

  /**
   * Scheduled: the gate announces the window from the row (R-MW-4) and refuses new logins from
   * preventLoginsFrom (R-MW-5). Waits until the start, recomputing after every edit.
   */
  private async announce(): Promise<'started' | 'cancelled'> {
    for (;;) {
      // what any edit asked is settled here too: its answer waits no longer
      if (this.w.requested.cancel) return this.announcedAs('cancelled');
      const now = workflowTime();
      const start = Date.parse(this.s.startsAt);
      if (now >= start) return this.announcedAs('started');
      const blockAt = this.s.preventLoginsFrom ? Date.parse(this.s.preventLoginsFrom) : undefined;
      const applying = this.w.version;
      await this.block(blockAt !== undefined && now >= blockAt);
      this.w.announced = applying;
      const next = blockAt !== undefined && blockAt > now ? Math.min(blockAt, start) : start;
      const v = this.w.version;
      await wf.condition(() => this.w.version !== v || this.w.requested.cancel, Math.max(1, next - now), {
        summary: next === start ? 'until the start' : 'until logins are blocked',
      });
    }
  }

  private announcedAs<T>(outcome: T): T {
    this.w.announced = this.w.version;
    return outcome;
  }

  /** R-MW-5: the early login block follows the (editable) preventLoginsFrom. */
  private async block(blocked: boolean): Promise<void> {
    if (blocked && this.s.phase !== 'blocking_logins') await this.persist('blocking_logins');
    else if (!blocked && this.s.phase === 'blocking_logins') await this.persist('scheduled');
  }

  /**
   * In progress: logins refused (the gate reads the clock and the row), the optional database drain
   * (R-MW-8), and every live session told to close (R-MW-7).
   */
  private async closeOrders(): Promise<SessionsSeen> {
    this.w.started = true;
    await this.persist('closing_sessions', 'in_progress');
    if (this.s.dbDrain) {
      this.s.dbAccess = await call('snapshotDatabaseAccess', `${this.s.target}: read database access`, SHORT_DB, { target: this.s.target });
      await call('revokeDatabaseAccess', `${this.s.target}: refuse new database connections`, SHORT_DB, { target: this.s.target, snapshot: this.s.dbAccess });
    }
    // The acknowledgement timer starts after the orders are written: the cutoff is never before their close_by.
    return this.sessionsStep();
  }

  /** One pass over the sessions: force the overdue, order the rest; the counts go to the details. */
  private async sessionsStep(closeAll = false): Promise<SessionsSeen> {
    const s = this.s;
    const step = await call('closeSessionsStep', closeAll ? `${s.target}: close every session left` : `${s.target}: order / force sessions`, SHORT_DB, {
      target: s.target,
      cutoff: new Date().toISOString(),
      closeAll,
      since: s.startsAt,
    });
    s.openSessions = step.live;
    s.sessionsToClose = step.pendingOrders;
    // the gate's heartbeat forces a told session while this workflow cannot (Temporal or every worker down): counted too
    s.forcedSessions = Math.max(s.forcedSessions + step.forced, step.forcedSince ?? 0);
    this.details();
    return step;
  }

  /**
   * R-MW-7 / R-MW-8: told sessions are forced CLOSE_ACK_SECONDS after their order; the work starts at
   * the end of the grace, or as soon as none is left with start-when-drained, or on "complete".
   */
  private async drain(seen: SessionsSeen): Promise<SessionsSeen> {
    const { requested } = this.w;
    const workAt = Date.parse(this.s.startsAt) + this.s.graceSeconds * 1000;
    let first = true;
    let keepDeadlines: boolean | undefined;
    let eachAtItsOwn: boolean | undefined;
    for (;;) {
      if (requested.cancel || requested.complete) return seen;
      const now = workflowTime();
      if (seen.live === 0 && (this.s.startWhenDrained || now >= workAt)) return seen;
      // the grace is over, but live sessions have deadlines: each is forced at its own by the next steps, not all at once
      // by the grace end's "close every session left" (asked once, the first time it matters)
      const deadlinesLeft = !first && now >= workAt && seen.live > 0 && seen.nextCloseBy !== null;
      if (deadlinesLeft && eachAtItsOwn === undefined) eachAtItsOwn = wf.patched(EACH_AT_ITS_DEADLINE_PATCH);
      let pastGrace: boolean;
      if (eachAtItsOwn === true) {
        // bounded: once the latest deadline is well past, whoever is left is closed at once
        const last = seen.lastCloseBy ? Date.parse(seen.lastCloseBy) : Date.parse(seen.nextCloseBy ?? '') + CLOSE_ACK_SECONDS * 1000;
        pastGrace = deadlinesLeft && now < last + CLOSE_ACK_SECONDS * 1000;
      } else {
        // histories before EACH_AT_ITS_DEADLINE_PATCH: only while the earliest deadline was still ahead
        const deadlinePending = deadlinesLeft && Date.parse(seen.nextCloseBy!) > now;
        if (deadlinePending && keepDeadlines === undefined) keepDeadlines = wf.patched(GRACE_KEEPS_DEADLINES_PATCH);
        pastGrace = deadlinePending && keepDeadlines === true;
      }
      if (!first && now >= workAt && !pastGrace) return seen;
      let wait: number;
      if (seen.live === 0) wait = workAt - now;
      else if (first) wait = CLOSE_ACK_SECONDS * 1000;
      else if (seen.nextCloseBy) wait = Math.min(CLOSE_ACK_SECONDS * 1000, Math.max(1000, Date.parse(seen.nextCloseBy) - now));
      else wait = CLOSE_ACK_SECONDS * 1000;
      if ((!first || seen.live === 0) && !pastGrace) wait = Math.min(wait, workAt - now);
      const timedOut = !(await wf.condition(() => requested.cancel || requested.complete, Math.max(1, wait), {
        summary: first && seen.live > 0 ? `${CLOSE_ACK_SECONDS} s to acknowledge the close order` : 'drain grace',
      }));
      if (!timedOut) continue;
      seen = await this.sessionsStep();
      if (first) {
        first = false;
        await this.persist('draining');
      }
    }
  }

  /** R-MW-8: whoever is left at the end of the grace is closed, with its database connections. */
  private async closeTheRest(seen: SessionsSeen): Promise<void> {
    if (seen.live > 0) await this.sessionsStep(true);
    if (this.s.dbAccess) {
      this.s.terminatedBackends += await call('terminateOtherBackends', `${this.s.target}: end remaining database connections`, SHORT_DB, { target: this.s.target });
    }
  }

  /** R-MW-9: the payload as a child workflow, or the operator's own work until "complete" or the end. */
  private async payload(): Promise<void> {
    if (this.cutOff()) return this.stopOverrunWatch();
    await this.persist('working');
    const s = this.s;
    const manifest = s.payload.kind === 'patch' || s.payload.kind === 'backup+patch' ? s.payload.manifest : undefined;
    const dossiers = s.payload.kind === 'backup' ? s.payload.dossiers : undefined;
    if (s.payload.kind === 'patch' || s.payload.kind === 'backup+patch') await this.watchingOverrun(() => this.patchPayload(manifest, s.payload.kind === 'backup+patch'));
    else if (s.payload.kind === 'backup') await this.watchingOverrun(() => this.backupPayload(dossiers));
    const { requested } = this.w;
    // Runs started by hand while the operator works are linked from the details (issue 12).
    const linking = s.payload.kind === 'none' && wf.patched(LINKS_PATCH);
    const workFrom = workflowTime();
    for (;;) {
      if (requested.cancel || requested.complete || s.payload.kind !== 'none') break;
      if (linking) await this.linkRuns();
      const now = workflowTime();
      const end = Date.parse(s.endsAt);
      if (now >= end) break;
      const v = this.w.version;
      const wait = linking ? Math.min(end - now, linkPollMs(now - workFrom)) : end - now;
      await wf.condition(() => requested.cancel || requested.complete || this.w.version !== v, wait, { summary: 'until "complete" or the end' });
    }
    // nobody said complete: the list, the status and the mail say the end time ended it (drill W: it read "completed")
    if (s.payload.kind === 'none' && !requested.cancel && !requested.complete) s.endedAtEnd = true;
    if (linking && wf.patched(HAND_RUNS_PATCH)) await this.waitForHandRuns();
    // a run started since the last look is linked before the window ends
    else if (linking && !requested.cancel) await this.linkRuns();
  }

  /**
   * SSM's cutoff: at the point the payload would start (after the drain), less than the cutoff left before the planned
   * end: it is not started (a patch cut by the end would leave dossiers half patched), and the window goes on to its
   * checks and gives access back. Work by hand ignores it. True when the payload is not started.
   */
  private cutOff(): boolean {
    const s = this.s;
    if (s.payload.kind === 'none' || s.cutoffSeconds === undefined) return false;
    const leftMs = Date.parse(s.endsAt) - workflowTime();
    if (leftMs >= s.cutoffSeconds * 1000 || !wf.patched(CUTOFF_PATCH)) return false;
    s.cutoffReached = { remainingSeconds: Math.max(0, Math.floor(leftMs / 1000)), cutoffSeconds: s.cutoffSeconds, at: new Date().toISOString() };
    wf.log.info('payload not started: cutoff reached', { target: s.target, payload: s.payload.kind, ...s.cutoffReached });
    this.details();
    return true;
  }

  /**
   * The payload, watched for its planned end: once it passes while the payload still runs (logins still refused),
   * --notify is told once, and the details say OVERRUNNING. A payload that ends in time cancels the watch.
   */
  private async watchingOverrun(work: () => Promise<void>): Promise<void> {
    if (this.overrunWatch) {
      try {
        return await work();
      } finally {
        await this.stopOverrunWatch();
      }
    }
    if (!wf.patched(OVERRUN_MAIL_PATCH)) return work();
    let ended = false;
    const watch = this.watchOverrun(() => ended).catch((err: unknown) => {
      if (!wf.isCancellation(err)) wf.log.warn('overrun watch failed', { error: String(err) });
    });
    try {
      await work();
    } finally {
      ended = true;
      await watch;
    }
  }

  private async watchOverrun(ended: () => boolean): Promise<void> {
    for (;;) {
      if (ended()) return;
      const leftMs = Date.parse(this.s.endsAt) - workflowTime();
      if (leftMs <= 0) break;
      // an extend moves the end: the wait is computed again
      const v = this.w.version;
      await wf.condition(() => ended() || this.w.version !== v, leftMs, { summary: 'until the planned end (overrun mail)' });
    }
    const running = [this.s.payloadRun, this.s.rollbackRun].filter((r): r is WindowRun => r?.state === 'running');
    // when it passed (not when the watch saw it: a payload started after it), and what went on then
    const during: OverrunDuring = this.s.payloadRun ? 'payload' : 'closing_sessions';
    this.s.overrun = { at: new Date(Math.min(Date.parse(this.s.endsAt), workflowTime())).toISOString(), mailed: false, during };
    this.details();
    this.s.overrun.mailed = await this.notify('overrunning', undefined, undefined, undefined, {
      running: running.map((r) => ({ kind: r.kind, workflowId: r.workflowId })),
      ...(during === 'closing_sessions' && { closingSessions: { payload: this.s.payload.kind } }),
    });
    this.details();
  }

  /** The overrun watch from the window's start (its sessions' closing) to the payload's end. */
  private startOverrunWatch(): void {
    let ended = false;
    const watch = this.watchOverrun(() => ended).catch((err: unknown) => {
      if (!wf.isCancellation(err)) wf.log.warn('overrun watch failed', { error: String(err) });
    });
    this.overrunWatch = {
      stop: async () => {
        ended = true;
        await watch;
      },
    };
  }

  private async stopOverrunWatch(): Promise<void> {
    await this.overrunWatch?.stop();
  }

  /**
   * R-PI-2 single-user mode: a patch run or backup batch started by hand in the window is not cut off by a complete, a
   * cancel or the window's end: access comes back once it has ended (as a payload's does), the details listing it
   * as running meanwhile.
   */
  private async waitForHandRuns(): Promise<void> {
    const from = workflowTime();
    for (;;) {
      await this.linkRuns();
      if (!(this.s.linkedRuns ?? []).some((r) => r.state === 'running')) return;
      // every 10 s for the first 10 minutes (access back soon after the run ends), then as the links' own polling
      const waited = workflowTime() - from;
      await wf.sleep(waited < 10 * 60_000 ? 10_000 : linkPollMs(waited), { summary: 'until the runs started by hand in the window end' });
    }
  }

  /** The ledgers' runs claimed since the start (batches, patch runs, rollbacks), other than the window's own children: linked from the details by workflow id. */
  private async linkRuns(): Promise<void> {
    const runs = await runsInWindow({ target: this.s.target, windowId: this.windowId });
    // the payload child and the window's own on-failure rollback child are not started by hand
    const own = [this.s.payloadRun?.workflowId, this.s.rollbackRun?.workflowId];
    this.s.linkedRuns = runs
      .filter((r) => !own.includes(r.workflowId))
      .map((r) => ({ kind: r.kind, workflowId: r.workflowId, runId: r.id, state: r.state, ...(r.notDone ? { notDone: r.notDone } : {}), ...(r.notStarted ? { notStarted: r.notStarted } : {}) }));
    this.details();
  }

  /** The child's id goes to the details before it starts: the operator can follow it at once. */
  private startPayload(kind: WindowRun['kind'], workflowId: string): WindowRun {
    const run: WindowRun = { kind, workflowId, state: 'running' };
    this.s.payloadRun = run;
    this.details();
    return run;
  }

  /** `notStarted`: the dossiers a patch run stopped by --max-failures did not start, for the next steps (a revalidation). */
  private payloadEnded(run: WindowRun, runId: number | null | undefined, state: string | undefined, failures: DossierFailure[], failuresTotal: number, notStarted?: number): void {
    if (runId !== undefined && runId !== null) run.runId = String(runId);
    run.state = state ?? 'failed';
    if (notStarted) run.notStarted = notStarted;
    if (failures.length) {
      this.s.failures = failures;
      this.s.failuresTotal = Math.max(failuresTotal, failures.length);
      this.payloadFailures = failures;
      this.payloadFailuresTotal = this.s.failuresTotal;
    }
    this.details();
  }

  /** A payload child that failed: its result when the failure carries one, and the window's failure (R-MW-10). */
  private payloadFailed(run: WindowRun, fallback: FailureType, err: unknown): never {
    if (wf.isCancellation(err)) throw err;
    const r = resultInFailure(err);
    this.payloadEnded(run, r?.runId, r?.state, dossierFailures(r?.failures), r?.failuresTotal ?? 0, r?.stopped?.notStarted);
    // A batch that ends partial fails its workflow with its result: the window says it as for a returned one.
    if (run.kind === 'backup' && r?.total !== undefined && (r.state === 'partial' || r.state === 'failed')) throw backupIncomplete(this.s.target, r);
    throw payloadFailure(run.kind, fallback, err);
  }

  /** R-MW-9 payload `patch`: the integration runs as a child; a refused, failed or partial run fails the window (R-MW-10). */
  private async patchPayload(dir: string | undefined, restorePoints: boolean): Promise<void> {
    const target = this.s.target;
    if (!dir) throw invalid(`payload ${this.s.payload.kind} needs the directory of patch packages (payload.manifest)`);
    const parentId = this.s.workflowId;
    const run = this.startPayload('patch', patchWorkflowId(target, workflowIdTimestamp(new Date())));
    // R-PI-11 (backup+patch): a restore point of each dossier just before it is patched, recorded in the patch ledger
    const payload = this.s.payload;
    const maxFailures = payload.kind === 'patch' || payload.kind === 'backup+patch' ? payload.maxFailures : undefined;
    const input = { target, mode: 'integrate' as const, dir, windowWorkflowId: parentId, ...(restorePoints ? { restorePoints } : {}), ...(maxFailures && { maxFailures }) };
    const r = await executePatchRunChild(input, { workflowId: run.workflowId, summary: `${this.s.payload.kind} payload of ${parentId}` })
      // a run that ended with failed dossiers fails its workflow with its result: rolled back when the window says so
      .catch(async (err: unknown) => {
        if (this.input.onFailure === 'rollback') {
          const partial = partialPatchResult(err);
          if (partial) return partial;
          // a run stopped at its supervisor: the supervisor goes back to its restore point as a failed dossier would
          // (no other dossier was touched), and the window goes on to its checks and gives access back
          const stopped = supervisorFailureOf(err);
          if (stopped && this.s.payload.kind === 'backup+patch' && wf.patched(SUPERVISOR_ROLLBACK_PATCH)) {
            // the others were not started: counted as `maintenance status` and the mail count them (an activity argument, no new command)
            if (stopped.notStarted) run.supervisorFailed = true;
            this.payloadEnded(run, stopped.runId, 'failed', dossierFailures([{ code: stopped.code, error: stopped.error }]), 1, stopped.notStarted);
            if (await this.rollbackOnFailure(stopped.runId, 1)) return null;
          }
        }
        return this.payloadFailed(run, FailureType.PatchRunFailed, err);
      });
    if (r === null) return;
    this.payloadEnded(run, r.runId, r.state, dossierFailures(r.failures), r.failed, r.stopped?.notStarted);
    if (r.state !== 'completed' && (await this.rollbackOnFailure(r.runId, r.failed))) return;
    if (r.state !== 'completed') {
      throw ApplicationFailure.create({
        type: FailureType.PatchRunPartial,
        nonRetryable: true,
        message: `patch run ${r.runId}: ${r.failed} dossier(s) failed (${r.failures.map((f) => f.code).join(', ')})${r.runId !== null ? `: "${patchRetryCommand(target, r.runId)}"` : ''}, then reopen`,
      });
    }
  }

  /**
   * R-PI-11 `onFailure: rollback` (payload backup+patch): the patch run's failed dossiers go back to their
   * restore points through a rollback child; true once all of them are back (the window then goes on to its
   * checks and gives access back), false when the window does not roll back. A rollback that fails, or leaves a
   * dossier not rolled back, fails the window (R-MW-10) with its own reason.
   */
  private async rollbackOnFailure(patchRunId: number | null, failed: number): Promise<boolean> {
    if (this.input.onFailure !== 'rollback' || this.s.payload.kind !== 'backup+patch' || patchRunId === null || failed === 0) return false;
    if (!wf.patched(ON_FAILURE_ROLLBACK_PATCH)) return false;
    const target = this.s.target;
    const parentId = this.s.workflowId;
    const run: WindowRun = { kind: 'rollback', workflowId: patchRollbackWorkflowId(target, workflowIdTimestamp(new Date())), state: 'running' };
    this.s.rollbackRun = run;
    this.details();
    const input = { target, patchRun: patchRunId, failedOnly: true, windowWorkflowId: parentId };
    const r = await executePatchRollbackChild(input, { workflowId: run.workflowId, summary: `roll back the failed dossiers of patch run ${patchRunId} (on failure of ${parentId})` }).catch(
      (err: unknown) => {
        if (wf.isCancellation(err)) throw err;
        // no failed dossier has a restore point: each failed before it was touched (its restore point is taken just
        // before it is patched), so there is nothing to undo and the window goes on as after a rollback
        if (failureTypeOf(err) === FailureType.NoRestorePoint && wf.patched(NOTHING_TO_ROLL_BACK_PATCH)) return null;
        const partial = partialRollbackResult(err);
        run.state = partial?.state ?? 'failed';
        if (partial) {
          run.runId = String(partial.runId);
          run.restored = partial.restored;
        }
        this.details();
        throw payloadFailure('rollback', FailureType.RollbackRunPartial, err);
      },
    );
    if (r === null) {
      run.state = NOTHING_TO_ROLL_BACK;
      run.restored = 0;
      this.details();
      return true;
    }
    run.runId = String(r.runId);
    run.state = r.state;
    run.restored = r.restored;
    if (r.restoredCodes?.length) run.codes = r.restoredCodes;
    this.details();
    return true;
  }

  /**
   * R-MW-9 payload `backup`: the backup batch (R-BK) runs as a child, restricted to `dossiers` when given;
   * a refused run, or one that leaves a dossier not backed up (partial, failed), fails the window (R-MW-10).
   */
  private async backupPayload(dossiers: string[] | undefined): Promise<void> {
    const target = this.s.target;
    const parentId = this.s.workflowId;
    const run = this.startPayload('backup', backupBatchWorkflowId(target, workflowIdTimestamp(new Date())));
    const r = await executeBackupBatchChild({ target, only: dossiers, trigger: 'manual' }, { workflowId: run.workflowId, summary: `backup payload of ${parentId}` })
      .catch((err: unknown) => this.payloadFailed(run, FailureType.BackupRunFailed, err));
    const withFailures = r as typeof r & { failures?: DossierFailure[]; failuresTotal?: number };
    this.payloadEnded(run, r.runId, r.state, dossierFailures(withFailures.failures), withFailures.failuresTotal ?? r.total - r.ok);
    if (r.state !== 'completed') throw backupIncomplete(target, r);
  }

  /** R-MW-10: the database answers, migrations are applied, every dossier has its schema; a problem throws. */
  private async checks(): Promise<void> {
    this.w.finishing = true;
    await this.persist('checking');
    let checks: { ok: boolean; problems: string[] };
    try {
      checks = await call('runPostChecks', `${this.s.target}: post-checks`, CHECKS, { target: this.s.target });
    } catch (err) {
      checks = { ok: false, problems: [`the target database does not answer: ${err instanceof Error ? err.message : String(err)}`] };
    }
    if (!checks.ok) {
      // added to the payload's failures (the dossiers a rollback restored stay named), not in their place
      this.s.failures = mergeFailures(this.payloadFailures ?? [], postCheckFailures(checks.problems));
      this.s.failuresTotal = this.payloadFailuresTotal + checks.problems.length;
      throw ApplicationFailure.create({ type: MaintenanceFailure.PostCheckFailed, nonRetryable: true, message: `${POST_CHECKS_FAILED}${checks.problems.join('; ')}` });
    }
  }

  /** R-MW-10: the target stays closed (state in_progress) and the list is alerted until the operator reopens or cancels. */
  private async failed(err: unknown): Promise<'reopened' | 'cancelled'> {
    const s = this.s;
    s.failure = err instanceof Error ? err.message : String(err);
    if (!s.failures?.length) {
      s.failures = capFailures([{ code: err instanceof ApplicationFailure && err.type ? err.type : 'Failed', status: 'failed', error: s.failure }]);
      s.failuresTotal = 1;
    }
    this.w.finishing = false;
    await this.persist('failed');
    // a post-check failure after an on-failure rollback: the alert names the dossiers rolled back too
    await this.notify('failed', undefined, this.rolledBack());
    await wf.condition(() => this.w.requested.reopen || this.w.requested.cancel);
    // R-PI-2: a run started by hand while the window was failed (the retry its next step advises, say) is linked, and
    // access comes back, after a reopen as after a cancel, only once it has ended (single-user mode)
    if (wf.patched(FAILED_HAND_RUNS_PATCH)) await this.waitForHandRuns();
    if (this.w.requested.cancel) return 'cancelled';
    // The failure is history now: the details and the status stop saying FAILED (issue 12).
    s.reopenedAfter = s.failure;
    delete s.failure;
    this.details();
    return 'reopened';
  }

  /** Access back: database connections (R-MW-8), then the row that the gate reads (completed). */
  private async restore(): Promise<void> {
    this.w.finishing = true;
    await this.persist('restoring');
    await this.restoreDatabaseAccess();
    await this.persist('completed', 'completed');
  }

  private async restoreDatabaseAccess(): Promise<void> {
    const snapshot = this.s.dbAccess;
    if (snapshot) await call('restoreDatabaseAccess', `${this.s.target}: give database access back`, SHORT_DB, { target: this.s.target, snapshot });
  }

  /**
   * The payload failed after a cancel was asked: the window ends cancelled. A payload run that ended is what the mail and
   * the list say (`payload patch partial`); a failure without one (the payload's own step) is kept as the failure.
   */
  private async abortAfter(err: unknown): Promise<MaintenanceWindowResult> {
    const run = this.s.payloadRun;
    if (!(run?.state && run.state !== 'running')) this.s.failure = err instanceof Error ? err.message : String(err);
    return this.abort();
  }

  /** R-MW-12: a window in progress cancelled gives access back at once. */
  private async abort(): Promise<MaintenanceWindowResult> {
    this.w.finishing = true;
    await this.stopOverrunWatch();
    await this.restoreDatabaseAccess();
    await this.persist('cancelled', 'cancelled');
    // a payload is never cut mid-way: one that ended before the cancel is said in the mail, not "interrupted"
    const run = this.s.payloadRun;
    return this.result(await this.notify('cancelled', run?.state && run.state !== 'running' ? { kind: this.s.payload.kind, state: run.state } : undefined));
  }

  /** R-MW-7: completed before its work began: no payload, no checks (nothing was done); access back, no one forced. */
  private async completeEarly(): Promise<MaintenanceWindowResult> {
    this.s.completedEarly = true;
    this.details();
    await this.restore();
    return this.result(await this.notify('completed'));
  }

  /** R-PI-11 on failure, for the completion mail: the failed dossiers rolled back, patched again with the retry. */
  private rolledBack(): MaintenanceMail['rolledBack'] {
    const run = this.s.payloadRun;
    const rollback = this.s.rollbackRun;
    if (!rollback || !ROLLED_BACK_STATES.includes(rollback.state ?? '') || run?.kind !== 'patch' || !run.runId) return undefined;
    const restored = rollback.restored ?? 0;
    // the payload's failed dossiers, not the window's failures: a failed post-check adds its own to those
    const dossiers = (this.payloadFailures ?? []).map((f) => ({ code: f.code, error: f.error }));
    return { failed: Math.max(this.payloadFailuresTotal, restored), restored, retryCommand: patchRetryCommand(this.s.target, Number(run.runId)), dossiers };
  }

  /** A window failed by its payload's dossiers: which ones for the mail (the payload run's status lists every one). */
  private failedDossiers(): MaintenanceMail['failedDossiers'] {
    const s = this.s;
    const run = s.payloadRun;
    if (!run?.runId || !this.payloadFailures?.length || s.failures !== this.payloadFailures) return undefined;
    const runId = Number(run.runId);
    const listCommand = run.kind === 'backup' ? `nightshift backup status --target ${s.target} ${runId}` : patchRunStatusCommand(s.target, runId);
    return { failed: Math.max(s.failuresTotal ?? 0, s.failures.length), dossiers: s.failures.map((f) => ({ code: f.code, error: f.error })), listCommand };
  }

  /** R-MW-10: the notification list's e-mail; never fails the window. */
  private async notify(
    kind: MaintenanceMailKind,
    payloadEnded?: { kind: string; state: string },
    rolledBack?: MaintenanceMail['rolledBack'],
    refusedOccurrence?: string,
    more: Pick<MaintenanceMail, 'running' | 'closingSessions'> = {},
  ): Promise<boolean> {
    const s = this.s;
    if (!s.notify.length) return false;
    // R-MW-9 the completion mail's payload line: its own dossiers not done (a failed post-check's are not), and those a
    // patch run stopped by --max-failures did not start
    const run = kind === 'completed' ? s.payloadRun : undefined;
    const notDone = run && run.state !== 'completed' ? this.payloadFailuresTotal : 0;
    const notStarted = run && run.state !== 'completed' ? (run.notStarted ?? 0) : 0;
    const input: MaintenanceMailInput = {
      target: s.target,
      mail: {
        kind,
        to: s.notify,
        type: s.type,
        startsAt: s.startsAt,
        endsAt: s.endsAt,
        failure: s.failure,
        ...(payloadEnded && { payloadEnded }),
        ...(rolledBack && { rolledBack }),
        ...(s.linkedRuns?.length && { handRuns: s.linkedRuns.map((r) => ({ kind: r.kind, workflowId: r.workflowId, state: r.state, notDone: r.notDone, notStarted: r.notStarted })) }),
        ...(kind === 'failed' && { failedDossiers: this.failedDossiers() }),
        // R-MW-9, R-MW-10: the completion mail says what the payload did, and the failure a reopen came after
        ...(run && { payloadRun: { kind: s.payload.kind, workflowId: run.workflowId, ...(run.runId && { runId: run.runId }), ...(run.state && { state: run.state }), ...(notDone && { notDone }), ...(notStarted && { notStarted }), ...(notStarted && run.supervisorFailed && { supervisorFailed: true }) } }),
        ...(kind === 'completed' && s.reopenedAfter && { reopenedAfter: s.reopenedAfter }),
        ...(kind === 'completed' && s.endedAtEnd && { endedAtEnd: true }),
        ...(kind === 'completed' && s.completedEarly && { completedEarly: true }),
        ...(kind === 'cancelled' && s.failure !== undefined && !this.w.started && { notStarted: true }),
        ...(refusedOccurrence && { refusedOccurrence }),
        ...(kind === 'completed' && s.cutoffReached && { payloadNotStarted: { kind: s.payload.kind, remainingSeconds: s.cutoffReached.remainingSeconds, cutoffSeconds: s.cutoffReached.cutoffSeconds } }),
        ...more,
      },
    };
    try {
      const r = await call('sendMaintenanceMail', `${s.target}: e-mail (${kind}) to ${s.notify.length} address(es)`, MAIL, input);
      return r.sent;
    } catch (err) {
      wf.log.warn('maintenance e-mail not sent', { error: String(err) });
      if (wf.isCancellation(err) || !wf.patched(MAIL_HANDOFF_PATCH)) return false;
      // handed to its own workflow, which retries it for a day; status, details and the Web UI name it
      const info = wf.workflowInfo();
      const workflowId = maintenanceMailWorkflowId(info.workflowId, info.runId, kind, (s.mailsRetrying?.length ?? 0) + 1);
      await startMaintenanceMailChild(input, workflowId);
      s.mailsRetrying = [...(s.mailsRetrying ?? []), { kind, workflowId, error: oneLine(innermostMessage(err), 300) }];
      this.details();
      return false;
    }
  }
}

/** Set by the server on a Schedule's runs: the occurrence's scheduled time (a trigger's is the trigger's time). */
const TemporalScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** R-MW-13: when this occurrence of a recurring window fired; from history, the same on every replay. */
function occurrenceFiredAt(): number {
  const info = wf.workflowInfo();
  const attribute = info.typedSearchAttributes.get(TemporalScheduledStartTime);
  if (attribute instanceof Date && !Number.isNaN(attribute.getTime())) return attribute.getTime();
  // the server appends the scheduled time to the action's id: maintenance/{target}/{name}-2026-12-05T20:00:00Z
  const suffix = /-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$/.exec(info.workflowId)?.[1];
  return suffix ? Date.parse(suffix) : info.startTime.getTime();
}

export async function maintenanceWindowWorkflow(input: MaintenanceWindowInput): Promise<MaintenanceWindowResult> {
  const window = new MaintenanceWindow(input.recurrence ? occurrenceInput(input, occurrenceFiredAt(), { wallClock: wf.patched(RECUR_WALL_CLOCK_PATCH) }) : input);
  window.registerHandlers();
  return window.run();
}

/**
 * R-MW-10: a window's --notify mail it could not send (the SMTP server away), retried for up to a day (MAIL_HANDED_OFF);
 * still refused then, the workflow fails, and the Web UI lists it failed.
 */
export async function maintenanceMailWorkflow(input: MaintenanceMailInput): Promise<{ sent: boolean }> {
  const r = await call('sendMaintenanceMail', `${input.target}: e-mail (${input.mail.kind}) to ${input.mail.to.length} address(es), retried for up to a day`, MAIL_HANDED_OFF, input);
  return { sent: r.sent };
}
