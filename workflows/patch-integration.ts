import * as wf from '@temporalio/workflow';
import { ApplicationFailure, type ActivityOptions } from '@temporalio/common';
import type { NightshiftActivities } from '../workers/activities';
import { faultAdvice, packageFixText, patchIntegrateCommand, patchSpanText, stoppedNote, supervisorAbsentNote } from '../domain/patch';
import { failureLimit, maxFailuresText } from '../domain/patch-input';
import type { RestorePointTally } from '../domain/run-details';
import { BATCH_PAGE_RETRY, DB_CALL } from './activity-presets';
import { activityCaller } from './activity-calls';
import { workflowTime } from './clock';
import {
  claimedRunDetails,
  claimedRunPhases,
  closedIntoLive,
  continueFanOutAsNew,
  endClaimedRun,
  failClaimedRun,
  fanOutRate,
  initialClaimedProgress,
  initialFanOutLive,
  initialFanOutState,
  prerequisiteNotes,
  refusedRunFailure,
  runCloser,
  stepFanOut,
  withSearchAttributes,
  type FanOutKind,
} from './fan-out';
import {
  DEFAULT_PATCH_TUNING,
  PATCH_KIND,
  PatchFailure,
  patchProgressQuery,
  patchRetryCommand,
  patchRevalidateCommand,
  type PatchCarriedState,
  type PatchChunkResult,
  type PatchIntegrationInput,
  type PatchProgress,
  type PatchRunResult,
  type PatchSummary,
  type SupervisorFailure,
} from './patch-integration.api';

/**
 * Ordered patch integration (R-PI-1 … R-PI-9): prerequisites, packages verified into the ledger, the
 * supervisor first (its failure ends the run before any other dossier), then the other dossiers on the
 * dossier fan-out engine (workflows/fan-out.ts): pages of the selection, chunk activities with a
 * heartbeat per dossier, bounded concurrency, continue-as-new under a history budget. A failed dossier
 * stops at its last good patch and the others go on; a run that ends with failed dossiers FAILS with
 * PatchRunPartial (its whole result in details[0]) so that the workflow list shows it.
 */

/** Reading a directory of packages and storing them: bounded by the packages' size. */
const READ = { startToCloseTimeout: '10 minutes', retry: { initialInterval: '2 seconds', maximumAttempts: 5 } } as const satisfies ActivityOptions;
/** The plan over every targeted dossier (R-PI-10): pages of 500, a heartbeat each, resumed from the last one. */
const PLAN = { startToCloseTimeout: '2 hours', heartbeatTimeout: '1 minute', retry: BATCH_PAGE_RETRY } as const satisfies ActivityOptions;

const call = activityCaller(DB_CALL);

export async function patchIntegrationWorkflow(input: PatchIntegrationInput): Promise<PatchRunResult> {
  const info = wf.workflowInfo();
  const tuning = { ...DEFAULT_PATCH_TUNING, ...input.tuning };
  const chunkOptions: ActivityOptions = {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${tuning.heartbeatTimeoutSeconds} seconds`,
    retry: BATCH_PAGE_RETRY,
  };
  const carried = input.state;
  const p: PatchProgress = carried?.progress ?? { ...initialClaimedProgress(input.target), mode: input.mode, patches: null, supervisor: null };
  const searchAttributes = withSearchAttributes(carried);
  wf.setHandler(patchProgressQuery, () => ({ ...p, prerequisites: [...p.prerequisites], notes: [...p.notes] }));

  /** What the details show beyond the progress: the latest failures, the dossiers in flight, the stall. */
  const live = initialFanOutLive({ done: p.done, failed: p.failed, failures: carried?.fanOut.failures, failuresTotal: carried?.fanOut.failuresTotal });
  let nextStep: { text: string; command: string } | null = null;
  // R-PI-11: only runs with restore points send the flag (the activities' inputs of other runs stay as they were)
  let restorePoints: { restorePoints?: true } = input.restorePoints ? { restorePoints: true } : {};
  let restoreTally: RestorePointTally | null = null;
  /** beneath the retry, once the run is closed: whose fault the failures are, as `patch status` says it */
  let advice: string | null = null;
  /**
   * The next step once the run is closed with failed dossiers, on the same verdict as the advice (faultAdvice): a package at
   * fault (no dossier holds the patch that failed) is fixed, resealed and its folder integrated again, not retried; else
   * `dossiers` (an older worker's answer, without the verdict, too).
   */
  const failedStep = (closed: { retryCommand?: string; packageHeld?: boolean; supervisorHolds?: boolean }, dossiers: string): { text: string; command: string } =>
    closed.packageHeld === false
      ? { text: packageFixText(closed.supervisorHolds ?? false), command: patchIntegrateCommand(p.target, input.dir ?? null) }
      : { text: dossiers, command: closed.retryCommand! };

  function details(): void {
    const notes = prerequisiteNotes(p.phase, p.prerequisites);
    if (p.patches) notes.push(patchSpanText(p.patches));
    if (p.plan) notes.push(...p.plan.lines.map((l) => `plan (R-PI-10): ${l}`));
    if (p.supervisor) {
      notes.push(`supervisor ${p.supervisor.code}: ${p.supervisor.status}${p.supervisor.level !== null ? ` (level ${p.supervisor.level})` : ''}${p.supervisor.error ? `: ${p.supervisor.error}` : ''}`);
    }
    notes.push(...p.notes);
    if (advice) notes.push(advice);
    claimedRunDetails(`patch ${p.mode}`, p, live, { nextStep, notes, restorePoints: restoreTally });
  }
  const enter = claimedRunPhases(p, { kind: PATCH_KIND, searchAttributes, details });

  let runId = carried?.runId ?? null;
  const run = runCloser(async (error) => {
    const closed = await call('finishPatchRun', `${input.target}: close run ${runId}`, DB_CALL, {
      target: input.target,
      runId: runId!,
      error,
      notes: p.notes,
      ...restorePoints,
      // --max-failures stopped it: its row says how many it did not start
      ...(p.stopped && { notStarted: p.stopped.notStarted }),
    });
    if (closed.restorePoints) restoreTally = closed.restorePoints;
    // an older worker's answer has no packageHeld: no advice then
    if (closed.retryCommand && closed.packageHeld !== undefined) advice = faultAdvice(closed.packageHeld, closed.supervisorHolds ?? false);
    return closed;
  });

  try {
    const state = carried ?? (await beforeTheOthers());
    runId = state.runId;
    if (carried) enter('dossiers');

    // --- The other dossiers: pages of the selection, chunks on the fan-out engine.
    const kind: FanOutKind = {
      page: { activity: 'selectPatchPage', params: { target: input.target, runId: state.runId, selection: state.selection } },
      chunk: {
        activity: 'applyPatchChunk',
        params: {
          target: input.target,
          runId: state.runId,
          upTo: state.upTo,
          supervisorLevel: state.supervisorLevel,
          ...restorePoints,
          ...(state.failureLimit !== undefined && { failureLimit: state.failureLimit }),
        },
        options: chunkOptions,
        summary: (codes, n) => `chunk ${n}: ${codes.length} dossier(s) from ${codes[0]}, patches up to ${state.upTo}`,
      },
      ledger: { activity: 'patchLedgerView', params: { target: input.target, runId: state.runId, workflowId: info.workflowId, ...restorePoints } },
    };
    const progressed = () => {
      // the supervisor counts in the progress from before the engine
      live.done = p.done = Math.max(p.done, live.done);
      live.failed = p.failed = Math.max(p.failed, live.failed);
      if (p.failed) nextStep = { text: 'once the run has ended, patch the failed dossiers again', command: patchRetryCommand(p.target, state.runId) };
      fanOutRate(live, { sinceMs: state.othersStartedAtMs, total: p.total, doneBefore: state.doneBefore });
    };
    const { more } = await stepFanOut<string, PatchChunkResult>({
      kind,
      state: state.fanOut,
      tuning: {
        chunkSize: tuning.chunkSize,
        window: tuning.concurrency,
        maxChunksPerRun: tuning.maxChunksPerRun,
        detailsEverySeconds: tuning.detailsEverySeconds,
        ...(state.failureLimit !== undefined && { stopAfterFailed: state.failureLimit }),
      },
      live,
      before: { done: state.doneBefore, failed: p.supervisor?.status === 'failed' ? 1 : 0 },
      onChunk: progressed,
      onLedger: (view) => {
        if (view.restorePoints) restoreTally = view.restorePoints;
        progressed();
      },
      show: details,
    });
    if (more) {
      // everything before the cursor is launched and done: a fresh run goes on from it
      const next: PatchCarriedState = { ...state, progress: p, generation: state.generation + 1 };
      return await continueFanOutAsNew<typeof patchIntegrationWorkflow>({ ...input, ...restorePoints, state: next });
    }

    if (state.fanOut.stopped && input.maxFailures && state.failureLimit !== undefined) {
      // AWS SSM's MaxErrors: the dossiers started finished; the others keep their level, below the supervisor (R-PI-9).
      // Counted from the ledger: a chunk retried after its worker was killed counts what the killed attempt ended as skipped
      const view = await call('patchLedgerView', `${input.target}: the ledger of run ${state.runId} (stopped by --max-failures)`, DB_CALL, {
        target: input.target,
        runId: state.runId,
        workflowId: info.workflowId,
      });
      const notStarted = p.total - view.done;
      // (stopped with nothing left, when the last page was full: the run simply ended)
      if (notStarted > 0) {
        p.stopped = { failed: view.failed, limit: state.failureLimit, maxFailures: maxFailuresText(input.maxFailures), notStarted };
        p.notes.push(stoppedNote(p.stopped));
        details();
      }
    }
    enter('finishing');
    const { done: ledgerDone, ...closed } = await run.close();
    // the ledger's count when the activity gives it (histories recorded before it did not)
    p.done = Math.max(p.done, state.doneBefore + state.fanOut.totals.done, ledgerDone ?? 0);
    p.failed = closed.failuresTotal;
    closedIntoLive(live, closed);
    if (closed.toRevalidateCount) p.notes.push(`${closed.toRevalidateCount} dossier(s) below the supervisor's level ${closed.supervisorLevel} to revalidate (R-PI-9)`);
    nextStep = closed.retryCommand
      ? failedStep(closed, 'fix the failed dossiers, then patch them again')
      : closed.toRevalidateCount
        ? { text: "bring the dossiers below the supervisor's level up", command: patchRevalidateCommand(p.target) }
        : null;
    enter(closed.state === 'completed' ? 'completed' : closed.state === 'partial' ? 'partial' : 'failed');
    const result: PatchRunResult = { ...p, ...closed };
    if (closed.restorePoints) p.notes.push(`restore points: ${closed.restorePoints.taken} taken, ${closed.restorePoints.reused} reused${closed.restorePoints.failed ? `, ${closed.restorePoints.failed} failed` : ''} (R-PI-11)`);
    const stop = p.stopped ? `, stopped (--max-failures ${p.stopped.maxFailures}): ${p.stopped.notStarted} not started` : '';
    // the failure's "next:" says the details' next step (a package at fault: integrated again, not retried)
    return await endClaimedRun(nextStep && closed.retryCommand ? { ...closed, retryCommand: nextStep.command } : closed, { type: PatchFailure.RunPartial, message: `patch run ${runId} on ${p.target}: ${closed.failuresTotal} of ${p.total} dossier(s) failed${stop}`, result });
  } catch (err) {
    return await failClaimedRun(err, {
      closer: run,
      runId,
      phase: p.phase,
      onClosed: (closed) => {
        p.failed = Math.max(p.failed, closed.failuresTotal);
        closedIntoLive(live, closed);
        if (closed.failures.length) p.notes.push(`failed: ${closed.failures.map((f) => f.code).join(', ')}${closed.failuresTotal > closed.failures.length ? ', …' : ''}`);
        if (closed.retryCommand) nextStep = failedStep(closed, 'fix the cause, then patch the failed dossiers again');
      },
      enterFailed: () => enter('failed'),
    });
  }

  /** Claim (R-PI-2), packages, plan and the supervisor: the first workflow run only. */
  async function beforeTheOthers(): Promise<PatchCarriedState> {
    enter('prerequisites');
    const claim = await call('claimPatchRun', `${input.target}: prerequisites (R-PI-2)`, DB_CALL, {
      target: input.target,
      workflowId: info.workflowId,
      mode: input.mode,
      dir: input.dir,
      dossiers: input.dossiers,
      retryOf: input.retryOf,
      windowWorkflowId: input.windowWorkflowId,
      ...restorePoints,
    });
    p.runId = claim.runId;
    p.prerequisites = claim.prerequisites;
    if (!claim.ok) {
      // the claim recorded the run as failed: nothing to close
      run.closed = true;
      enter('failed');
      throw refusedRunFailure(PatchFailure.PrerequisiteFailed, `patch run refused on ${input.target}`, claim.prerequisites);
    }
    runId = claim.runId;

    enter('reading');
    let patches: PatchSummary[];
    let plan: Awaited<ReturnType<NightshiftActivities['planPatchRun']>>;
    if (input.mode === 'integrate') {
      patches = await call('loadPatchPackages', `${input.target}: verify ${input.dir}`, READ, { target: input.target, runId: claim.runId, dir: input.dir! });
      plan = await call('planPatchRun', `${input.target}: plan`, DB_CALL, {
        target: input.target,
        runId: claim.runId,
        mode: input.mode,
        dossiers: input.dossiers,
        lastPatch: patches[patches.length - 1]!.number,
      });
    } else {
      plan = await call('planPatchRun', `${input.target}: plan`, DB_CALL, { target: input.target, runId: claim.runId, mode: input.mode, dossiers: input.dossiers, retryOf: input.retryOf });
      // R-PI-11: the failed dossiers of a run with restore points get theirs too
      if (plan.restorePoints) restorePoints = { restorePoints: true };
      patches = await call('storedPatchSummaries', `${input.target}: stored patches`, DB_CALL, { target: input.target, runId: claim.runId, upTo: plan.upTo });
    }
    if (patches.length) p.patches = { first: patches[0]!.number, last: patches[patches.length - 1]!.number };

    const sup = plan.supervisor;
    let supervisorLevel = sup?.level ?? 0;
    p.total = plan.others + (sup?.included ? 1 : 0);
    if (sup) p.supervisor = { code: sup.code, status: sup.included ? 'pending' : 'not-in-list', level: sup.level };
    if (input.mode === 'integrate' && !sup?.included) {
      const uncovered = patches.filter((x) => x.treatments > 0 && x.number > supervisorLevel).map((x) => x.number);
      const n = supervisorAbsentNote(sup?.code ?? null, uncovered);
      if (n) p.notes.push(n);
    }
    // R-PI-10: the plan the run follows, shown before any dossier is touched (runs recorded before it had none)
    if (wf.patched('patch-plan-summary')) {
      p.plan = await call('summarizePatchPlan', `${input.target}: plan (R-PI-10)`, PLAN, {
        target: input.target,
        runId: claim.runId,
        selection: plan.selection,
        upTo: plan.upTo,
        supervisorIncluded: Boolean(sup?.included),
      });
    }
    details();

    // --- The supervisor first: its failure stops the run before any other dossier is touched.
    if (sup?.included) {
      enter('supervisor');
      const out = await call('applySupervisorPatches', `${sup.code} (supervisor): patches up to ${plan.upTo}`, chunkOptions, {
        target: input.target,
        runId: claim.runId,
        code: sup.code,
        upTo: plan.upTo,
        supervisorLevel,
        ...restorePoints,
      });
      p.done++;
      p.supervisor = { code: sup.code, status: out.status, level: out.toLevel, ...(out.error ? { error: out.error } : {}) };
      supervisorLevel = out.toLevel;
      if (out.status === 'failed') {
        p.failed++;
        nextStep = { text: 'fix the supervisor, then run its patches again', command: patchRetryCommand(p.target, claim.runId) };
        // details: what a window rolling back on failure needs (the run's id, the supervisor, why: supervisorFailureOf)
        throw ApplicationFailure.create({
          type: PatchFailure.SupervisorFailed,
          nonRetryable: true,
          message: `the supervisor ${sup.code} failed, no other dossier was touched: ${out.error}`,
          details: [{ runId: claim.runId, code: sup.code, error: out.error ?? '', ...(plan.others && { notStarted: plan.others }) } satisfies SupervisorFailure],
        });
      }
    }
    enter('dossiers');
    const limit = input.maxFailures ? failureLimit(input.maxFailures, plan.others) : undefined;
    if (input.maxFailures) p.notes.push(`stops starting dossiers once more than ${limit} of the ${plan.others} other(s) have failed (--max-failures ${maxFailuresText(input.maxFailures)})`);
    return {
      ...(limit !== undefined && { failureLimit: limit }),
      progress: p,
      runId: claim.runId,
      upTo: plan.upTo,
      supervisorLevel,
      selection: plan.selection,
      fanOut: initialFanOutState(''),
      othersStartedAtMs: workflowTime(),
      doneBefore: p.done,
      searchAttributes,
      generation: 0,
    };
  }
}
