import {
  type ActivityOptions,
  type LocalActivityOptions,
  CancellationScope,
  type Workflow,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import { type DossierFailure, type FanOutChunkResult, type FanOutLedgerView, mergeFailures } from '../domain/run-details';
import { DB_CALL } from './activity-presets';

/**
 * The workflow side of the dossier fan-out engine (activity side: activities/fan-out.ts runChunk; shared
 * types and the details renderer: domain/run-details.ts). Used by the backup batch; built for patch
 * integration and the backup verification / retention work to come.
 *
 * The ledger (one row per dossier, written by the kind's per-dossier function) is the truth; the
 * workflow only moves a cursor and carries totals:
 *
 *   const state = input.state?.fanOut ?? initialFanOutState(firstCursor);
 *   const more = await runFanOut(kind, state, tuning, { onChunk, onLedger });
 *   if (more) return continueFanOutAsNew<typeof myWorkflow>({ ...input, state: { ...mine, fanOut: state } });
 *
 * A kind names its activities (registered in workers/activities.ts) and the parameters they get:
 *
 *   const kind: FanOutKind = {
 *     page:   { activity: 'selectBackupPage', params: { target, runId } },   // LOCAL activity:
 *             //   ({ ...params, cursor, limit }) => { codes, cursor, exhausted }  (codes in cursor order)
 *     chunk:  { activity: 'backupChunk', params: { target, runId, ... }, options, summary: (codes, n) => '...' },
 *             //   ({ ...params, codes }) => FanOutChunkResult (its own extra fields are kept), built on runChunk
 *     ledger: { activity: 'backupLedgerView', params: { target, runId } }, // optional LOCAL activity:
 *             //   (params) => FanOutLedgerView, read every `detailsEverySeconds` while chunks run
 *   };
 *
 * - Pages of `chunkSize` codes after the cursor, one chunk activity per page, `window` chunks in flight.
 * - A chunk hands back the codes it did not start (`remaining`, time budget): they go out first again.
 * - A chunk that throws (after its retries) stops new launches; the chunks in flight end; it is rethrown.
 * - Continue-as-new is due after `maxChunksPerRun` chunks, when Temporal suggests it, or past
 *   `historyBudget` events (default 6,000: far below the 10,240 warning whatever the chunk size): runFanOut
 *   then returns true with everything before the cursor done and `state` ready to carry;
 *   continueFanOutAsNew waits for allHandlersFinished first.
 * - Per-dossier outcome: the ledger row; the newest failures (capped) ride in `state.failures` and every
 *   chunk result.
 */

export interface FanOutPage<C> {
  codes: string[];
  cursor: C;
  exhausted: boolean;
}

export interface FanOutTuning {
  /** codes per page, so per chunk */
  chunkSize: number;
  /** chunk activities in flight at once */
  window: number;
  /** chunks per workflow run before continue-as-new */
  maxChunksPerRun: number;
  /** continue-as-new once this run's history passes this many events */
  historyBudget?: number;
  /** seconds between two ledger reads while chunks run (the details' refresh); 0: none */
  detailsEverySeconds?: number;
}

export const DEFAULT_HISTORY_BUDGET = 6_000;
export const DEFAULT_DETAILS_EVERY_SECONDS = 5;

export interface FanOutTotals {
  done: number;
  ok: number;
  failed: number;
  /** by ledger status */
  counts: Record<string, number>;
}

/** Carried across continue-as-new: everything before the cursor was launched; `pending` are handed-back codes. */
export interface FanOutState<C> {
  cursor: C;
  exhausted: boolean;
  pending: string[][];
  chunkSeq: number;
  totals: FanOutTotals;
  /** the newest failures (capped) */
  failures: DossierFailure[];
  failuresTotal: number;
}

export function initialFanOutState<C>(cursor: C): FanOutState<C> {
  return { cursor, exhausted: false, pending: [], chunkSeq: 0, totals: { done: 0, ok: 0, failed: 0, counts: {} }, failures: [], failuresTotal: 0 };
}

export type FanOutActivityName = keyof NightshiftActivities & string;

export interface FanOutKind {
  page: { activity: FanOutActivityName; params: object; options?: LocalActivityOptions };
  chunk: {
    activity: FanOutActivityName;
    params: object;
    options: ActivityOptions;
    summary?: (codes: string[], n: number) => string;
    /** reads a result of an older shape (a history recorded before the engine) as a FanOutChunkResult */
    normalize?: (raw: unknown) => FanOutChunkResult;
  };
  ledger?: { activity: FanOutActivityName; params: object; options?: LocalActivityOptions };
}

export interface FanOutHooks<R extends FanOutChunkResult> {
  /** after each chunk, once `state` counts it */
  onChunk?: (result: R, codes: string[]) => void;
  /** after each ledger read while chunks run */
  onLedger?: (view: FanOutLedgerView) => void;
}

type AnyActivity = (arg: object) => Promise<unknown>;
type WithOptions = AnyActivity & { executeWithOptions(options: ActivityOptions, args: [object]): Promise<unknown> };

/** The patch id guarding the ledger ticker: histories recorded before it replay without timers. */
export const FAN_OUT_DETAILS_PATCH = 'fan-out-details-timer';

/** Runs chunks until the selection is exhausted (false) or this run should continue as new (true). */
export async function runFanOut<C, R extends FanOutChunkResult = FanOutChunkResult>(
  kind: FanOutKind,
  state: FanOutState<C>,
  tuning: FanOutTuning,
  hooks: FanOutHooks<R> = {},
): Promise<boolean> {
  const local = proxyLocalActivities<Record<string, AnyActivity>>(kind.page.options ?? DB_CALL);
  const chunks = proxyActivities<Record<string, WithOptions>>(kind.chunk.options);
  const budget = tuning.historyBudget ?? DEFAULT_HISTORY_BUDGET;
  const inFlight = new Map<number, Promise<void>>();
  let launched = 0;
  let chunkError: { err: unknown } | undefined;

  const launch = (codes: string[]) => {
    const n = state.chunkSeq++;
    launched++;
    const args = { ...kind.chunk.params, codes };
    const call = kind.chunk.summary
      ? chunks[kind.chunk.activity]!.executeWithOptions({ ...kind.chunk.options, summary: kind.chunk.summary(codes, n) }, [args])
      : chunks[kind.chunk.activity]!(args);
    const p = (call as Promise<R>)
      .then((raw) => {
        const r = (kind.chunk.normalize ? kind.chunk.normalize(raw) : raw) as R;
        const t = state.totals;
        for (const [status, k] of Object.entries(r.counts)) t.counts[status] = (t.counts[status] ?? 0) + k;
        t.ok += r.ok;
        t.failed += r.failed;
        // the dossiers an earlier, killed attempt ended count as done too (their outcome is in the ledger)
        t.done += r.ok + r.failed + (r.skipped ?? 0);
        if (r.failures.length) state.failures = mergeFailures(state.failures, r.failures);
        state.failuresTotal += r.failuresTotal;
        if (r.remaining.length) state.pending.push(r.remaining);
        hooks.onChunk?.(r, codes);
      })
      .catch((err: unknown) => {
        chunkError ??= { err };
      })
      .finally(() => inFlight.delete(n));
    inFlight.set(n, p);
  };
  const timeToContinue = () => {
    const info = workflowInfo();
    return launched >= tuning.maxChunksPerRun || info.continueAsNewSuggested || info.historyLength > budget;
  };

  // the details' refresh: a timer and a ledger read while chunks run (cancelled when they are done)
  const every = tuning.detailsEverySeconds ?? DEFAULT_DETAILS_EVERY_SECONDS;
  let ticker: CancellationScope | undefined;
  let ticking: Promise<void> | undefined;
  const startTicker = () => {
    if (ticker || !kind.ledger || every <= 0 || !patched(FAN_OUT_DETAILS_PATCH)) return;
    const ledger = kind.ledger;
    const read = proxyLocalActivities<Record<string, AnyActivity>>(ledger.options ?? DB_CALL)[ledger.activity]!;
    ticker = new CancellationScope();
    ticking = ticker
      .run(async () => {
        for (;;) {
          await sleep(every * 1000);
          const view = (await read(ledger.params)) as FanOutLedgerView;
          hooks.onLedger?.(view);
        }
      })
      .catch(() => {});
  };

  try {
    for (;;) {
      while (chunkError === undefined && inFlight.size < tuning.window && !timeToContinue()) {
        const handedBack = state.pending.shift();
        if (handedBack) {
          launch(handedBack);
          continue;
        }
        if (state.exhausted) break;
        const page = (await local[kind.page.activity]!({ ...kind.page.params, cursor: state.cursor, limit: tuning.chunkSize })) as FanOutPage<C>;
        state.cursor = page.cursor;
        state.exhausted = page.exhausted;
        if (page.codes.length) launch(page.codes);
      }
      if (inFlight.size === 0) break;
      startTicker();
      await Promise.race(inFlight.values());
    }
  } finally {
    if (ticker) {
      ticker.cancel();
      await ticking;
    }
  }
  if (chunkError !== undefined) throw chunkError.err;
  return !(state.exhausted && state.pending.length === 0);
}

/** Continue-as-new once every update / signal handler has finished (no handler's work is lost). */
export async function continueFanOutAsNew<F extends Workflow>(...args: Parameters<F>): Promise<never> {
  await condition(allHandlersFinished);
  return continueAsNew<F>(...args);
}
