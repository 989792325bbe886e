import * as wf from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { FanOutChunkResult, FanOutLedgerView } from '../domain/run-details';
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
  DEFAULT_RESTORE_TUNING,
  RESTORE_RUN_KIND,
  RestoreRunFailure,
  restoreRetryCommand,
  restoreRunProgressQuery,
  restoreScopeText,
  type RestoreRunCarriedState,
  type RestoreRunInput,
  type RestoreRunProgress,
  type RestoreRunResult,
} from './backup-restore-run.api';

/**
 * Bulk restore (`backup restore --all|--codes --at DATE`, a lost database): the claim (no backup batch, patch run,
 * rollback or other restore run on the target), the selection written once into the ledger, then the dossiers on the
 * fan-out engine (workflows/fan-out.ts), each restored from its generation at or before DATE in one transaction that
 * also records it (exactly once), or kept when it is there and the run does not replace. A run that ends with dossiers
 * not restored FAILS with RestoreRunPartial (its whole result in details[0]) so that the workflow list shows it (R-OP-1).
 */

const call = activityCaller(DB_CALL);

export async function backupRestoreRunWorkflow(input: RestoreRunInput): Promise<RestoreRunResult> {
  const info = wf.workflowInfo();
  const tuning = { ...DEFAULT_RESTORE_TUNING, ...input.tuning };
  const carried = input.state;
  const p: RestoreRunProgress = carried?.progress ?? { ...initialClaimedProgress(input.target), scope: restoreScopeText(input), restored: 0, kept: 0 };
  const searchAttributes = withSearchAttributes(carried);
  wf.setHandler(restoreRunProgressQuery, () => ({ ...p, prerequisites: [...p.prerequisites], notes: [...p.notes] }));

  const live = initialFanOutLive({ done: p.done, failed: p.failed, failures: carried?.fanOut.failures, failuresTotal: carried?.fanOut.failuresTotal });
  let nextStep: { text: string; command: string } | null = null;
  const asked = `each dossier's ${input.kind ? `${input.kind} ` : ''}generation at or before ${input.at}${input.replace ? ', replacing those there' : ', keeping those there'}`;

  function details(): void {
    const counts = p.restored || p.kept ? [`restored ${p.restored}, kept (already there) ${p.kept}`] : [];
    claimedRunDetails('backup restore', p, live, { nextStep, notes: [`scope: ${p.scope}`, asked, ...counts, ...prerequisiteNotes(p.phase, p.prerequisites), ...p.notes] });
  }
  const enter = claimedRunPhases(p, { kind: RESTORE_RUN_KIND, searchAttributes, details });

  let runId = carried?.runId ?? null;
  const run = runCloser((error) => call('finishRestoreRun', `${input.target}: close restore run ${runId}`, DB_CALL, { target: input.target, runId: runId!, error, notes: p.notes }));

  try {
    const state = carried ?? (await claimAndSelect());
    runId = state.runId;
    if (carried) enter('dossiers');
    const chunkOptions: ActivityOptions = { startToCloseTimeout: '6 hours', heartbeatTimeout: `${tuning.heartbeatTimeoutSeconds} seconds`, retry: BATCH_PAGE_RETRY };
    const kind: FanOutKind = {
      page: { activity: 'selectRestorePage', params: { target: input.target, runId: state.runId } },
      chunk: {
        activity: 'restoreRunChunk',
        params: { target: input.target, runId: state.runId },
        options: chunkOptions,
        summary: (codes, n) => `chunk ${n}: restore ${codes.length} dossier(s) from ${codes[0]}`,
      },
      ledger: { activity: 'restoreRunLedgerView', params: { target: input.target, runId: state.runId, workflowId: info.workflowId } },
    };
    const progressed = () => {
      live.done = p.done = Math.max(p.done, live.done);
      live.failed = p.failed = Math.max(p.failed, live.failed);
      if (p.failed) nextStep = { text: 'once the run has ended, restore the failed dossiers again', command: restoreRetryCommand(p.target, state.runId) };
      fanOutRate(live, { sinceMs: state.startedAtMs, total: p.total, digits: 2 });
    };
    const { more } = await stepFanOut<string, FanOutChunkResult>({
      kind,
      state: state.fanOut,
      tuning: { chunkSize: tuning.chunkSize, window: tuning.concurrency, maxChunksPerRun: tuning.maxChunksPerRun, detailsEverySeconds: tuning.detailsEverySeconds },
      live,
      onChunk: () => {
        const counts = state.fanOut.totals.counts;
        p.restored = Math.max(p.restored, counts.ok ?? 0);
        p.kept = Math.max(p.kept, counts.kept ?? 0);
        progressed();
      },
      onLedger: (view: FanOutLedgerView) => {
        const v = view as FanOutLedgerView & { restored?: number; kept?: number };
        p.restored = Math.max(p.restored, v.restored ?? 0);
        p.kept = Math.max(p.kept, v.kept ?? 0);
        progressed();
      },
      show: details,
    });
    if (more) {
      const next: RestoreRunCarriedState = { ...state, progress: p, generation: state.generation + 1 };
      return await continueFanOutAsNew<typeof backupRestoreRunWorkflow>({ ...input, state: next });
    }

    enter('finishing');
    const closed = await run.close();
    p.total = closed.total;
    p.done = closed.done;
    p.failed = closed.failuresTotal;
    p.restored = closed.restored;
    p.kept = closed.kept;
    closedIntoLive(live, closed);
    nextStep = closed.retryCommand ? { text: 'fix the cause, then restore the failed dossiers again', command: closed.retryCommand } : null;
    enter(closed.state);
    const result: RestoreRunResult = {
      ...p,
      state: closed.state,
      restoredCodes: closed.restoredCodes,
      keptCodes: closed.keptCodes,
      failures: closed.failures,
      failuresTotal: closed.failuresTotal,
      ...(closed.retryCommand ? { retryCommand: closed.retryCommand } : {}),
    };
    return await endClaimedRun(closed, { type: RestoreRunFailure.RunPartial, message: `restore run ${runId} on ${p.target}: ${closed.failuresTotal} of ${p.total} dossier(s) not restored`, result });
  } catch (err) {
    return await failClaimedRun(err, {
      closer: run,
      runId,
      phase: p.phase,
      onClosed: (closed) => {
        p.done = closed.done;
        p.failed = closed.failuresTotal;
        p.restored = closed.restored;
        p.kept = closed.kept;
        closedIntoLive(live, closed);
        if (closed.retryCommand) nextStep = { text: 'fix the cause, then restore the failed dossiers again', command: closed.retryCommand };
      },
      enterFailed: () => enter('failed'),
    });
  }

  /** The claim and the selection: the first workflow run only. */
  async function claimAndSelect(): Promise<RestoreRunCarriedState> {
    enter('prerequisites');
    const { state: _state, tuning: _tuning, ...asked } = input;
    const claim = await call('claimRestoreRun', `${input.target}: nothing else working on the target`, DB_CALL, { ...asked, workflowId: info.workflowId });
    p.runId = claim.runId;
    p.prerequisites = claim.prerequisites;
    if (!claim.ok) {
      run.closed = true;
      enter('failed');
      throw refusedRunFailure(RestoreRunFailure.PrerequisiteFailed, `restore refused on ${input.target}`, claim.prerequisites);
    }
    runId = claim.runId;
    enter('selecting');
    const selected = await call('selectRestoreDossiers', `${input.target}: the dossiers of ${p.scope}`, DB_CALL, {
      target: input.target,
      runId: claim.runId,
      at: input.at,
      kind: input.kind,
      codes: input.codes,
      all: input.all,
      retryOf: input.retryOf,
    });
    p.total = selected.total;
    enter('dossiers');
    return { progress: p, runId: claim.runId, fanOut: initialFanOutState(''), startedAtMs: workflowTime(), searchAttributes, generation: 0 };
  }
}
