import * as wf from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { FanOutChunkResult } from '../domain/run-details';
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
  DEFAULT_ROLLBACK_TUNING,
  PATCH_ROLLBACK_KIND,
  RollbackFailure,
  rollbackProgressQuery,
  rollbackRetryCommand,
  rollbackScopeText,
  type PatchRollbackInput,
  type RollbackCarriedState,
  type RollbackProgress,
  type RollbackRunResult,
} from './patch-rollback.api';

/**
 * Patch rollback (R-PI-11): the claim (R-PI-2: inside a window, nothing else running), the selection written
 * once into the ledger (each dossier with the restore point a patch run recorded), then the dossiers on the
 * fan-out engine (workflows/fan-out.ts), each restored from its restore point in one transaction that also
 * records it (exactly once). A run that ends with dossiers not rolled back FAILS with RollbackRunPartial
 * (its whole result in details[0]) so that the workflow list shows it, like a partial patch run.
 */

const call = activityCaller(DB_CALL);

export async function patchRollbackWorkflow(input: PatchRollbackInput): Promise<RollbackRunResult> {
  const info = wf.workflowInfo();
  const tuning = { ...DEFAULT_ROLLBACK_TUNING, ...input.tuning };
  const carried = input.state;
  const p: RollbackProgress = carried?.progress ?? { ...initialClaimedProgress(input.target), scope: rollbackScopeText(input) };
  const searchAttributes = withSearchAttributes(carried);
  wf.setHandler(rollbackProgressQuery, () => ({ ...p, prerequisites: [...p.prerequisites], notes: [...p.notes] }));

  const live = initialFanOutLive({ done: p.done, failed: p.failed, failures: carried?.fanOut.failures, failuresTotal: carried?.fanOut.failuresTotal });
  let nextStep: { text: string; command: string } | null = null;

  function details(): void {
    claimedRunDetails('patch rollback', p, live, { nextStep, notes: [`scope: ${p.scope}`, ...prerequisiteNotes(p.phase, p.prerequisites), ...p.notes] });
  }
  const enter = claimedRunPhases(p, { kind: PATCH_ROLLBACK_KIND, searchAttributes, details });

  let runId = carried?.runId ?? null;
  const run = runCloser((error) => call('finishRollbackRun', `${input.target}: close rollback run ${runId}`, DB_CALL, { target: input.target, runId: runId!, error, notes: p.notes }));

  try {
    const state = carried ?? (await claimAndSelect());
    runId = state.runId;
    if (carried) enter('dossiers');
    const chunkOptions: ActivityOptions = { startToCloseTimeout: '6 hours', heartbeatTimeout: `${tuning.heartbeatTimeoutSeconds} seconds`, retry: BATCH_PAGE_RETRY };
    const kind: FanOutKind = {
      page: { activity: 'selectRollbackPage', params: { target: input.target, runId: state.runId } },
      chunk: {
        activity: 'rollbackChunk',
        params: { target: input.target, runId: state.runId },
        options: chunkOptions,
        summary: (codes, n) => `chunk ${n}: restore ${codes.length} dossier(s) from ${codes[0]} to their restore points`,
      },
      ledger: { activity: 'rollbackLedgerView', params: { target: input.target, runId: state.runId, workflowId: info.workflowId } },
    };
    const progressed = () => {
      live.done = p.done = Math.max(p.done, live.done);
      live.failed = p.failed = Math.max(p.failed, live.failed);
      if (p.failed) nextStep = { text: 'once the run has ended, roll the failed dossiers back again', command: rollbackRetryCommand(p.target, state.runId) };
      // a restore is a whole dossier: the rate in hundredths
      fanOutRate(live, { sinceMs: state.startedAtMs, total: p.total, digits: 2 });
    };
    const { more } = await stepFanOut<string, FanOutChunkResult>({
      kind,
      state: state.fanOut,
      tuning: { chunkSize: tuning.chunkSize, window: tuning.concurrency, maxChunksPerRun: tuning.maxChunksPerRun, detailsEverySeconds: tuning.detailsEverySeconds },
      live,
      onChunk: progressed,
      onLedger: progressed,
      show: details,
    });
    if (more) {
      const next: RollbackCarriedState = { ...state, progress: p, generation: state.generation + 1 };
      return await continueFanOutAsNew<typeof patchRollbackWorkflow>({ ...input, state: next });
    }

    enter('finishing');
    const closed = await run.close();
    p.total = closed.total;
    p.done = closed.done;
    p.failed = closed.failuresTotal;
    closedIntoLive(live, closed);
    // which ones, as --wait and `patch status --rollback` print them (the first of them, by code)
    const beyond = closed.restored > closed.restoredCodes.length ? ` and ${closed.restored - closed.restoredCodes.length} more` : '';
    p.notes.push(`${closed.restored} dossier(s) restored to their restore point (data, treatments, dictionary, ledger, level)${closed.restoredCodes.length ? `: ${closed.restoredCodes.join(' ')}${beyond}` : ''}`);
    nextStep = closed.retryCommand ? { text: 'fix the cause, then roll the failed dossiers back again', command: closed.retryCommand } : null;
    enter(closed.state);
    const result: RollbackRunResult = { ...p, state: closed.state, restored: closed.restored, restoredCodes: closed.restoredCodes, failures: closed.failures, failuresTotal: closed.failuresTotal, ...(closed.retryCommand ? { retryCommand: closed.retryCommand } : {}) };
    return await endClaimedRun(closed, { type: RollbackFailure.RunPartial, message: `rollback run ${runId} on ${p.target}: ${closed.failuresTotal} of ${p.total} dossier(s) not rolled back`, result });
  } catch (err) {
    return await failClaimedRun(err, {
      closer: run,
      runId,
      phase: p.phase,
      onClosed: (closed) => {
        p.done = closed.done;
        p.failed = closed.failuresTotal;
        closedIntoLive(live, closed);
        if (closed.restored) p.notes.push(`${closed.restored} dossier(s) restored before the run ended`);
        if (closed.retryCommand) nextStep = { text: 'fix the cause, then roll the failed dossiers back again', command: closed.retryCommand };
      },
      enterFailed: () => enter('failed'),
    });
  }

  /** The claim (R-PI-2) and the selection: the first workflow run only. */
  async function claimAndSelect(): Promise<RollbackCarriedState> {
    enter('prerequisites');
    const scope = { dossiers: input.dossiers, patchRun: input.patchRun, failedOnly: input.failedOnly, retryOf: input.retryOf };
    const claim = await call('claimRollbackRun', `${input.target}: prerequisites (R-PI-2)`, DB_CALL, { target: input.target, workflowId: info.workflowId, windowWorkflowId: input.windowWorkflowId, ...scope });
    p.runId = claim.runId;
    p.prerequisites = claim.prerequisites;
    if (!claim.ok) {
      run.closed = true;
      enter('failed');
      throw refusedRunFailure(RollbackFailure.PrerequisiteFailed, `rollback refused on ${input.target}`, claim.prerequisites);
    }
    runId = claim.runId;
    enter('selecting');
    const selected = await call('selectRollbackDossiers', `${input.target}: restore points of ${p.scope}`, DB_CALL, { target: input.target, runId: claim.runId, ...scope });
    p.total = selected.total;
    enter('dossiers');
    return { progress: p, runId: claim.runId, fanOut: initialFanOutState(''), startedAtMs: workflowTime(), searchAttributes, generation: 0 };
  }
}
