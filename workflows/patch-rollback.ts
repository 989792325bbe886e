import * as wf from '@temporalio/workflow';
import { ApplicationFailure, type ActivityOptions } from '@temporalio/common';
import { renderRunDetails, type DossierFailure, type FanOutChunkResult, type FanOutInFlight, type FanOutLedgerView } from '../domain/run-details';
import { NightshiftKind, nightshiftAttributes } from './search-attributes';
import { BATCH_PAGE_RETRY, DB_CALL } from './activity-presets';
import { activityCaller, innermostMessage } from './activity-calls';
import { workflowTime } from './clock';
import { continueFanOutAsNew, initialFanOutState, runFanOut, type FanOutKind } from './fan-out';
import {
  DEFAULT_ROLLBACK_TUNING,
  PATCH_ROLLBACK_KIND,
  RollbackFailure,
  rollbackProgressQuery,
  rollbackRetryCommand,
  rollbackScopeText,
  type PatchRollbackInput,
  type RollbackCarriedState,
  type RollbackPhase,
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
const failure = (type: string, message: string, details?: unknown) =>
  ApplicationFailure.create({ type, message, nonRetryable: true, ...(details === undefined ? {} : { details: [details] }) });
const TERMINAL: RollbackPhase[] = ['completed', 'partial', 'failed'];

export async function patchRollbackWorkflow(input: PatchRollbackInput): Promise<RollbackRunResult> {
  const info = wf.workflowInfo();
  const tuning = { ...DEFAULT_ROLLBACK_TUNING, ...input.tuning };
  const carried = input.state;
  const p: RollbackProgress = carried?.progress ?? {
    runId: null,
    workflowId: info.workflowId,
    target: input.target,
    scope: rollbackScopeText(input),
    phase: 'starting',
    prerequisites: [],
    notes: [],
    total: 0,
    done: 0,
    failed: 0,
  };
  const searchAttributes = carried?.searchAttributes ?? info.typedSearchAttributes.get(NightshiftKind) !== undefined;
  wf.setHandler(rollbackProgressQuery, () => ({ ...p, prerequisites: [...p.prerequisites], notes: [...p.notes] }));

  const live: { failures: DossierFailure[]; failuresTotal: number; inFlight: FanOutInFlight[]; sinceLastEndSeconds: number | null; rate: number | null; etaSeconds: number | null } = {
    failures: carried?.fanOut.failures ?? [],
    failuresTotal: carried?.fanOut.failuresTotal ?? 0,
    inFlight: [],
    sinceLastEndSeconds: null,
    rate: null,
    etaSeconds: null,
  };
  let nextStep: { text: string; command: string } | null = null;

  function details(): void {
    const notes: string[] = [`scope: ${p.scope}`];
    if (p.phase === 'prerequisites' || (p.phase === 'failed' && p.prerequisites.some((q) => !q.ok))) {
      for (const q of p.prerequisites) notes.push(`${q.ok ? 'ok' : 'NOT MET'}: ${q.name}: ${q.detail}`);
    }
    notes.push(...p.notes);
    wf.setCurrentDetails(
      renderRunDetails({
        kind: 'patch rollback',
        target: p.target,
        phase: p.phase,
        run: p.runId,
        done: p.done,
        total: p.total,
        failed: p.failed,
        rate: live.rate,
        etaSeconds: live.etaSeconds,
        sinceLastEndSeconds: live.sinceLastEndSeconds,
        running: !TERMINAL.includes(p.phase),
        inFlight: live.inFlight,
        failures: live.failures,
        failuresTotal: live.failuresTotal,
        nextStep,
        notes,
      }),
    );
  }
  function enter(phase: RollbackPhase): void {
    p.phase = phase;
    if (searchAttributes) wf.upsertSearchAttributes(nightshiftAttributes({ target: p.target, kind: PATCH_ROLLBACK_KIND, phase }));
    details();
  }

  let runId = carried?.runId ?? null;
  let finished = false;
  const finish = async (error?: string) => {
    finished = true;
    return wf.CancellationScope.nonCancellable(() =>
      call('finishRollbackRun', `${input.target}: close rollback run ${runId}`, DB_CALL, { target: input.target, runId: runId!, error, notes: p.notes }),
    );
  };

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
    const rate = () => {
      const seconds = (workflowTime() - state.startedAtMs) / 1000;
      live.rate = seconds > 0 ? Math.round((p.done / seconds) * 100) / 100 : null;
      live.etaSeconds = live.rate ? Math.round((p.total - p.done) / live.rate) : null;
    };
    const retryStep = () => {
      if (p.failed) nextStep = { text: 'once the run has ended, roll the failed dossiers back again', command: rollbackRetryCommand(p.target, state.runId) };
    };
    const more = await runFanOut<string, FanOutChunkResult>(kind, state.fanOut, { chunkSize: tuning.chunkSize, window: tuning.concurrency, maxChunksPerRun: tuning.maxChunksPerRun, detailsEverySeconds: tuning.detailsEverySeconds }, {
      onChunk: () => {
        p.done = Math.max(p.done, state.fanOut.totals.done);
        p.failed = Math.max(p.failed, state.fanOut.totals.failed);
        live.failures = state.fanOut.failures;
        live.failuresTotal = state.fanOut.failuresTotal;
        live.sinceLastEndSeconds = 0;
        retryStep();
        rate();
        details();
      },
      onLedger: (view: FanOutLedgerView) => {
        p.done = Math.max(p.done, view.done);
        p.failed = Math.max(p.failed, view.failed);
        if (view.failuresTotal >= live.failuresTotal) {
          live.failures = view.failures;
          live.failuresTotal = view.failuresTotal;
        }
        live.inFlight = view.inFlight;
        live.sinceLastEndSeconds = view.sinceLastEndSeconds;
        retryStep();
        rate();
        details();
      },
    });
    if (more) {
      const next: RollbackCarriedState = { ...state, progress: p, generation: state.generation + 1 };
      return await continueFanOutAsNew<typeof patchRollbackWorkflow>({ ...input, state: next });
    }

    enter('finishing');
    const closed = await finish();
    p.total = closed.total;
    p.done = closed.done;
    p.failed = closed.failuresTotal;
    live.failures = closed.failures;
    live.failuresTotal = closed.failuresTotal;
    live.inFlight = [];
    p.notes.push(`${closed.restored} dossier(s) restored to their restore point (data, treatments, dictionary, ledger, level)`);
    nextStep = closed.retryCommand ? { text: 'fix the cause, then roll the failed dossiers back again', command: closed.retryCommand } : null;
    enter(closed.state);
    const result: RollbackRunResult = { ...p, state: closed.state, restored: closed.restored, restoredCodes: closed.restoredCodes, failures: closed.failures, failuresTotal: closed.failuresTotal, ...(closed.retryCommand ? { retryCommand: closed.retryCommand } : {}) };
    await wf.condition(wf.allHandlersFinished);
    if (closed.state === 'partial') {
      const shown = closed.failures.slice(0, 5).map((f) => `${f.code}: ${f.error}`);
      throw failure(
        RollbackFailure.RunPartial,
        `rollback run ${runId} on ${p.target}: ${closed.failuresTotal} of ${p.total} dossier(s) not rolled back (${shown.join('; ')}${closed.failuresTotal > shown.length ? '; …' : ''}); next: ${closed.retryCommand}`,
        result,
      );
    }
    return result;
  } catch (err) {
    if (wf.isCancellation(err) || err instanceof wf.ContinueAsNew) throw err;
    if (!finished && runId !== null) {
      const closed = await finish(innermostMessage(err));
      p.done = closed.done;
      p.failed = closed.failuresTotal;
      live.failures = closed.failures;
      live.failuresTotal = closed.failuresTotal;
      if (closed.restored) p.notes.push(`${closed.restored} dossier(s) restored before the run ended`);
      if (closed.retryCommand) nextStep = { text: 'fix the cause, then roll the failed dossiers back again', command: closed.retryCommand };
      enter('failed');
    } else if (!TERMINAL.includes(p.phase)) enter('failed');
    throw err;
  }

  /** The claim (R-PI-2) and the selection: the first workflow run only. */
  async function claimAndSelect(): Promise<RollbackCarriedState> {
    enter('prerequisites');
    const scope = { dossiers: input.dossiers, patchRun: input.patchRun, failedOnly: input.failedOnly, retryOf: input.retryOf };
    const claim = await call('claimRollbackRun', `${input.target}: prerequisites (R-PI-2)`, DB_CALL, { target: input.target, workflowId: info.workflowId, windowWorkflowId: input.windowWorkflowId, ...scope });
    p.runId = claim.runId;
    p.prerequisites = claim.prerequisites;
    if (!claim.ok) {
      finished = true;
      enter('failed');
      const failed = claim.prerequisites.filter((q) => !q.ok);
      throw failure(RollbackFailure.PrerequisiteFailed, `rollback refused on ${input.target}: ${failed.map((q) => `${q.name}: ${q.detail}`).join('; ')}`);
    }
    runId = claim.runId;
    enter('selecting');
    const selected = await call('selectRollbackDossiers', `${input.target}: restore points of ${p.scope}`, DB_CALL, { target: input.target, runId: claim.runId, ...scope });
    p.total = selected.total;
    enter('dossiers');
    return { progress: p, runId: claim.runId, fanOut: initialFanOutState(''), startedAtMs: workflowTime(), searchAttributes, generation: 0 };
  }
}
