import * as wf from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { FanOutChunkResult, FanOutLedgerView } from '../domain/run-details';
import { BATCH_PAGE_RETRY } from './activity-presets';
import { workflowTime } from './clock';
import {
  claimedRunDetails,
  claimedRunPhases,
  closedIntoLive,
  endClaimedRun,
  failClaimedRun,
  fanOutRate,
  initialFanOutLive,
  initialFanOutState,
  prerequisiteNotes,
  refusedRunFailure,
  runCloser,
  stepFanOut,
  withSearchAttributes,
  type FanOutActivityName,
  type FanOutKind,
} from './fan-out';
import type { ClaimedRunProgress, Prerequisite, RestoringRunCarriedState, RestoringRunPhase, RestoringRunTuning } from './fan-out.api';
import type { NightshiftKindValue } from './search-attributes';

/**
 * The driver of a run that restores whole dossiers on the fan-out engine (workflows/fan-out.ts): the patch rollback
 * (R-PI-11) and the bulk restore (R-BK-11). The claim (nothing else working on the target), the selection written once
 * into the run's ledger, the dossiers in chunks (each restored in one transaction that also records it: exactly once),
 * continue-as-new with the cursor, the ledger closed. A run that ends with dossiers not restored FAILS with its kind's
 * partial failure (its whole result in details[0]) so that the workflow list shows it (R-OP-1).
 *
 * Each workflow gives its names, texts and activity calls; the order of the commands is this driver's, the same for
 * both (their recorded histories replay through it).
 */

export interface RestoringRunProgress extends ClaimedRunProgress<RestoringRunPhase> {
  /** what was asked, in words */
  scope: string;
}

/** What the run's ledger says once closed. */
export interface RestoringRunClosed {
  state: 'completed' | 'partial' | 'failed';
  total: number;
  done: number;
  failures: { code: string; status: string; error: string }[];
  failuresTotal: number;
  retryCommand?: string;
}

export interface RestoringRun<P extends RestoringRunProgress, C extends RestoringRunClosed, R> {
  target: string;
  /** set when the workflow continued as new */
  carried?: RestoringRunCarriedState<P>;
  /** the progress of a first run (a carried one is used otherwise) */
  initial: () => P;
  progressQuery: wf.QueryDefinition<P>;
  /** search attribute kind, and the details' title (`patch rollback`) */
  kind: NightshiftKindValue;
  title: string;
  tuning: RestoringRunTuning;
  /** the run's own notes, after its scope */
  notes: (p: P) => string[];
  activities: { page: FanOutActivityName; chunk: FanOutActivityName; ledger: FanOutActivityName };
  chunkSummary: (codes: string[], n: number) => string;
  claim: () => Promise<{ runId: number; ok: boolean; prerequisites: Prerequisite[] }>;
  /** `rollback refused`: the refusal's words and failure type */
  refused: { type: string; what: string };
  /** the selection written into the ledger; `p` takes what the run shows of it */
  select: (runId: number, p: P) => Promise<{ total: number }>;
  close: (runId: number, error: string | undefined, notes: string[]) => Promise<C>;
  /** the next step's words while failed dossiers wait for the end of the run, and once it has ended */
  retry: { command: (target: string, runId: number) => string; during: string; after: string };
  /** a chunk's totals or the ledger's view read into the run's own counters */
  counted?: (p: P, from: { chunkCounts?: Record<string, number>; ledger?: FanOutLedgerView }) => void;
  /** the closed ledger read into the progress: `ended` when the run finished, not when it failed */
  closedInto: (p: P, closed: C, how: 'ended' | 'failed') => void;
  result: (p: P, closed: C) => R;
  partial: { type: string; message: (runId: number, closed: C, p: P) => string };
  continueAsNew: (next: RestoringRunCarriedState<P>) => Promise<never>;
}

export async function runRestoringRun<P extends RestoringRunProgress, C extends RestoringRunClosed, R>(r: RestoringRun<P, C, R>): Promise<R> {
  const info = wf.workflowInfo();
  const carried = r.carried;
  const p: P = carried?.progress ?? r.initial();
  const searchAttributes = withSearchAttributes(carried);
  wf.setHandler(r.progressQuery, () => ({ ...p, prerequisites: [...p.prerequisites], notes: [...p.notes] }));

  const live = initialFanOutLive({ done: p.done, failed: p.failed, failures: carried?.fanOut.failures, failuresTotal: carried?.fanOut.failuresTotal });
  let nextStep: { text: string; command: string } | null = null;

  function details(): void {
    claimedRunDetails(r.title, p, live, { nextStep, notes: [`scope: ${p.scope}`, ...r.notes(p), ...prerequisiteNotes(p.phase, p.prerequisites), ...p.notes] });
  }
  const enter = claimedRunPhases(p, { kind: r.kind, searchAttributes, details });

  let runId = carried?.runId ?? null;
  const run = runCloser((error) => r.close(runId!, error, p.notes));

  try {
    const state = carried ?? (await claimAndSelect());
    runId = state.runId;
    if (carried) enter('dossiers');
    const chunkOptions: ActivityOptions = { startToCloseTimeout: '6 hours', heartbeatTimeout: `${r.tuning.heartbeatTimeoutSeconds} seconds`, retry: BATCH_PAGE_RETRY };
    const kind: FanOutKind = {
      page: { activity: r.activities.page, params: { target: r.target, runId: state.runId } },
      chunk: { activity: r.activities.chunk, params: { target: r.target, runId: state.runId }, options: chunkOptions, summary: r.chunkSummary },
      ledger: { activity: r.activities.ledger, params: { target: r.target, runId: state.runId, workflowId: info.workflowId } },
    };
    const progressed = () => {
      live.done = p.done = Math.max(p.done, live.done);
      live.failed = p.failed = Math.max(p.failed, live.failed);
      if (p.failed) nextStep = { text: r.retry.during, command: r.retry.command(p.target, state.runId) };
      // a restore is a whole dossier: the rate in hundredths
      fanOutRate(live, { sinceMs: state.startedAtMs, total: p.total, digits: 2 });
    };
    const { more } = await stepFanOut<string, FanOutChunkResult>({
      kind,
      state: state.fanOut,
      tuning: { chunkSize: r.tuning.chunkSize, window: r.tuning.concurrency, maxChunksPerRun: r.tuning.maxChunksPerRun, detailsEverySeconds: r.tuning.detailsEverySeconds },
      live,
      onChunk: () => {
        r.counted?.(p, { chunkCounts: state.fanOut.totals.counts });
        progressed();
      },
      onLedger: (view: FanOutLedgerView) => {
        r.counted?.(p, { ledger: view });
        progressed();
      },
      show: details,
    });
    if (more) return await r.continueAsNew({ ...state, progress: p, generation: state.generation + 1 });

    enter('finishing');
    const closed = await run.close();
    p.total = closed.total;
    p.done = closed.done;
    p.failed = closed.failuresTotal;
    closedIntoLive(live, closed);
    r.closedInto(p, closed, 'ended');
    nextStep = closed.retryCommand ? { text: r.retry.after, command: closed.retryCommand } : null;
    enter(closed.state);
    return await endClaimedRun(closed, { type: r.partial.type, message: r.partial.message(runId, closed, p), result: r.result(p, closed) });
  } catch (err) {
    return await failClaimedRun(err, {
      closer: run,
      runId,
      phase: p.phase,
      onClosed: (closed) => {
        p.done = closed.done;
        p.failed = closed.failuresTotal;
        closedIntoLive(live, closed);
        r.closedInto(p, closed, 'failed');
        if (closed.retryCommand) nextStep = { text: r.retry.after, command: closed.retryCommand };
      },
      enterFailed: () => enter('failed'),
    });
  }

  /** The claim and the selection: the first workflow run only. */
  async function claimAndSelect(): Promise<RestoringRunCarriedState<P>> {
    enter('prerequisites');
    const claim = await r.claim();
    p.runId = claim.runId;
    p.prerequisites = claim.prerequisites;
    if (!claim.ok) {
      run.closed = true;
      enter('failed');
      throw refusedRunFailure(r.refused.type, r.refused.what, claim.prerequisites);
    }
    runId = claim.runId;
    enter('selecting');
    const selected = await r.select(claim.runId, p);
    p.total = selected.total;
    enter('dossiers');
    return { progress: p, runId: claim.runId, fanOut: initialFanOutState(''), startedAtMs: workflowTime(), searchAttributes, generation: 0 };
  }
}
