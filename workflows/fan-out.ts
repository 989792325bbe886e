import {
  type ActivityOptions,
  type LocalActivityOptions,
  CancellationScope,
  type Workflow,
  allHandlersFinished,
  condition,
  ApplicationFailure,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { NightshiftActivities } from '../workers/activities';
import {
  type DossierFailure,
  type FanOutChunkResult,
  type FanOutInFlight,
  type FanOutLedgerView,
  type RunDetails,
  STALLED_AFTER_SECONDS,
  escapeMarkdown,
  mergeFailures,
  renderRunDetails,
} from '../domain/run-details';
import { DB_CALL } from './activity-presets';
import { innermostMessage } from '../domain/failures';
import { workflowTime } from './clock';
import type { ClaimedRunProgress, FanOutRunTuning, RunMailInput, RunMailResult } from './fan-out.api';
import { NightshiftKind, type NightshiftKindValue, nightshiftAttributes, phaseAttribute } from './search-attributes';

/**
 * The workflow side of the dossier fan-out engine (activity side: activities/fan-out.ts runChunk; shared
 * types and the details renderer: domain/run-details.ts; contract shapes: ./fan-out.api.ts). Used by the backup
 * batch, the verification, the prune, patch integration and rollback, each through the run driver below.
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
 * - More failed dossiers than `stopAfterFailed` stop new launches too; the chunks in flight end; `state.stopped`.
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
  /**
   * once more dossiers than this have failed (as the chunks that ended say), no chunk is started: those in flight
   * end, and the run stops with `state.stopped` (AWS SSM's MaxErrors). Absent: never.
   */
  stopAfterFailed?: number;
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
  /** set when `stopAfterFailed` stopped the run with dossiers left to start */
  stopped?: true;
  /** a chunk stopped starting dossiers: the run's failures passed `stopAfterFailed` (its ledger's count) */
  overFailures?: true;
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
        if (r.overFailures) state.overFailures = true;
        hooks.onChunk?.(r, codes);
      })
      .catch((err: unknown) => {
        chunkError ??= { err };
      })
      .finally(() => inFlight.delete(n));
    inFlight.set(n, p);
  };
  const overFailures = () => tuning.stopAfterFailed !== undefined && (state.overFailures === true || state.totals.failed > tuning.stopAfterFailed);
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
      while (chunkError === undefined && !overFailures() && inFlight.size < tuning.window && !timeToContinue()) {
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
  const left = !(state.exhausted && state.pending.length === 0);
  if (left && overFailures()) {
    // too many failed: what is left is not started (no continue-as-new either)
    state.stopped = true;
    return false;
  }
  return left;
}

/** Continue-as-new once every update / signal handler has finished (no handler's work is lost). */
export async function continueFanOutAsNew<F extends Workflow>(...args: Parameters<F>): Promise<never> {
  await condition(allHandlersFinished);
  return continueAsNew<F>(...args);
}

/*
 * The run driver the fan-out workflows share (backup batch, backup verify, backup prune, patch integration,
 * patch rollback): what the details show while the dossiers run (`FanOutLive`, kept from every chunk result
 * and every ledger read), the engine's run with its early end (`stepFanOut`), continue-as-new, the end of a
 * run (`endFanOutRun`), the failure of a run that left dossiers undone (`partialRunFailure`) and the
 * report's mail. Each workflow keeps its own phases, activities and texts:
 *
 *   const live = initialFanOutLive(carried?.fanOut);
 *   const { more, failure } = await stepFanOut({ kind, state, tuning, live, show, endsEarly: { what: 'backup prune' } });
 *   if (more) return continueFanOutAsNew<typeof myWorkflow>({ ...input, state });
 *   ... close the run (its own activity) ...
 *   await endFanOutRun(failure);
 */

/** What the details show of the dossiers while a fan-out run goes (besides each workflow's own fields). */
export interface FanOutLive {
  done: number;
  /** not ok: the chunks' totals or the ledger's last read, whichever is ahead */
  failed: number;
  /** the newest failures (capped) */
  failures: DossierFailure[];
  failuresTotal: number;
  inFlight: FanOutInFlight[];
  /** seconds since a dossier last ended (the ledger's); 0 when a chunk just ended */
  sinceLastEndSeconds: number | null;
  /** dossiers per second since the start, and the ETA (null: no rate yet, or stalled) */
  rate: number | null;
  etaSeconds: number | null;
}

export function initialFanOutLive(from?: Partial<Pick<FanOutLive, 'done' | 'failed' | 'failures' | 'failuresTotal'>>): FanOutLive {
  return {
    done: from?.done ?? 0,
    failed: from?.failed ?? 0,
    failures: from?.failures ?? [],
    failuresTotal: from?.failuresTotal ?? 0,
    inFlight: [],
    sinceLastEndSeconds: null,
    rate: null,
    etaSeconds: null,
  };
}

/** The rate since `sinceMs` over what was done since (`done - doneBefore`), and the ETA of what is left unless stalled. */
export function fanOutRate(live: FanOutLive, o: { sinceMs: number; total: number; doneBefore?: number; digits?: number }): void {
  const seconds = (workflowTime() - o.sinceMs) / 1000;
  const scale = 10 ** (o.digits ?? 1);
  live.rate = seconds > 0 ? Math.round(((live.done - (o.doneBefore ?? 0)) / seconds) * scale) / scale : null;
  const left = Math.max(0, o.total - live.done);
  const stalled = (live.sinceLastEndSeconds ?? 0) >= STALLED_AFTER_SECONDS && left > 0;
  live.etaSeconds = live.rate && !stalled ? Math.round(left / live.rate) : null;
}

/** A run closed by its own activity: what the details keep of the ledger's last word. */
export function closedIntoLive(live: FanOutLive, closed: { failures: DossierFailure[]; failuresTotal: number }): void {
  live.failures = closed.failures;
  live.failuresTotal = closed.failuresTotal;
  live.inFlight = [];
}

export interface FanOutStep<C, R extends FanOutChunkResult> {
  kind: FanOutKind;
  state: FanOutState<C>;
  tuning: FanOutTuning;
  live: FanOutLive;
  /** counted before this engine's state began (a patch run's supervisor) */
  before?: { done: number; failed: number };
  /** after each chunk and each ledger read, once `live` counts it: the workflow's own fields */
  onChunk?: (result: R) => void;
  onLedger?: (view: FanOutLedgerView) => void;
  /** then the details */
  show: () => void;
  /**
   * A chunk that failed after its retries ends the run early: logged (`${what} ended early`) and returned,
   * for the workflow to close its run and rethrow it. Without it the failure is thrown at once.
   */
  endsEarly?: { what: string; runId?: number };
}

/** A batch-like run's tuning (backup batch, verification, prune) as the engine's (its history budget: the default). */
export const engineTuning = (t: FanOutRunTuning): FanOutTuning => ({ chunkSize: t.chunkSize, window: t.window, maxChunksPerRun: t.maxChunksPerRun });
/** What its chunk activities get of it: their lanes and their time budget. */
export const chunkTuning = (t: FanOutRunTuning) => ({ concurrency: t.concurrency, timeBudgetMs: t.chunkTimeBudgetMs });

/** One workflow run of the engine: `more` when it should continue as new; `failure` when a chunk ended it early. */
export async function stepFanOut<C, R extends FanOutChunkResult = FanOutChunkResult>(s: FanOutStep<C, R>): Promise<{ more: boolean; failure?: unknown }> {
  const { state, live } = s;
  const before = s.before ?? { done: 0, failed: 0 };
  try {
    const more = await runFanOut<C, R>(s.kind, state, s.tuning, {
      onChunk: (r) => {
        live.done = Math.max(live.done, before.done + state.totals.done);
        live.failed = Math.max(live.failed, before.failed + state.totals.failed);
        live.failures = state.failures;
        live.failuresTotal = state.failuresTotal;
        live.sinceLastEndSeconds = 0;
        s.onChunk?.(r);
        s.show();
      },
      onLedger: (view) => {
        // the ledger is the truth while a chunk runs (its result comes at its end)
        live.done = Math.max(live.done, view.done);
        live.failed = Math.max(live.failed, view.failed);
        if (view.failuresTotal >= live.failuresTotal && view.failures.length) {
          live.failures = view.failures;
          live.failuresTotal = view.failuresTotal;
        }
        live.inFlight = view.inFlight;
        live.sinceLastEndSeconds = view.sinceLastEndSeconds;
        s.onLedger?.(view);
        s.show();
      },
    });
    return { more };
  } catch (err) {
    if (!s.endsEarly) throw err;
    log.warn(`${s.endsEarly.what} ended early`, { ...(s.endsEarly.runId === undefined ? {} : { runId: s.endsEarly.runId }), error: innermostMessage(err) });
    return { more: false, failure: err };
  } finally {
    live.inFlight = [];
  }
}

/** The end of a run that was closed: once every handler has finished, the early end (if any) is rethrown. */
export async function endFanOutRun(failure: unknown): Promise<void> {
  await condition(allHandlersFinished);
  if (failure !== undefined) throw failure;
}

/**
 * The engine's state over the flat one the backup batch and the verification carry (their shape is older
 * than the engine, and runs in flight carry it): read from it, and written back by `carryFanOutState`.
 */
export interface FlatFanOutState<C> {
  cursor: C;
  exhausted: boolean;
  pending: string[][];
  chunkSeq: number;
  failures?: DossierFailure[];
  failuresTotal?: number;
}

export function fanOutStateOf<C>(flat: FlatFanOutState<C>, totals: FanOutTotals, failuresTotal: number): FanOutState<C> {
  const { cursor, exhausted, pending, chunkSeq } = flat;
  return { cursor, exhausted, pending, chunkSeq, totals, failures: flat.failures ?? [], failuresTotal: flat.failuresTotal ?? failuresTotal };
}

export function carryFanOutState<C>(flat: FlatFanOutState<C>, fan: FanOutState<C>): void {
  const { cursor, exhausted, pending, chunkSeq, failures, failuresTotal } = fan;
  Object.assign(flat, { cursor, exhausted, pending, chunkSeq, failures, failuresTotal });
}

/** `A: why; B: why` */
const failureList = (failures: DossierFailure[]) => failures.map((f) => `${f.code}: ${f.error}`).join('; ');

/**
 * The failure of a run that left dossiers undone (non-retryable, its whole result in details[0]), so that the
 * workflow list shows it. `shown`: the newest three failures (the backup batch, the verification; none:
 * nothing in brackets) or the first five and `…` when there are more (patch integration, rollback).
 */
export function partialRunFailure(o: {
  type: string;
  message: string;
  failures: DossierFailure[];
  shown: 'newest' | { first: number; total: number };
  next: string | null | undefined;
  result: unknown;
}): ApplicationFailure {
  let message = o.message;
  if (o.shown === 'newest') {
    if (o.failures[0]) message += ` (${failureList(o.failures.slice(-3))})`;
    if (o.next) message += `; next: ${o.next}`;
  } else {
    const shown = o.failures.slice(0, o.shown.first);
    message += ` (${failureList(shown)}${o.shown.total > shown.length ? '; …' : ''}); next: ${o.next}`;
  }
  return ApplicationFailure.create({ type: o.type, nonRetryable: true, message, details: [o.result] });
}

/** A claim refused on its prerequisites (R-PI-2): `${what} on TARGET: name: detail; ...`, non-retryable. */
export function refusedRunFailure(type: string, what: string, prerequisites: { name: string; ok: boolean; detail: string }[]): ApplicationFailure {
  const unmet = prerequisites.filter((q) => !q.ok);
  return ApplicationFailure.create({ type, nonRetryable: true, message: `${what}: ${unmet.map((q) => `${q.name}: ${q.detail}`).join('; ')}` });
}

/**
 * The report's mail of a run (its own workflow, abandoned by the run): retried with backoff for up to a day,
 * then recorded as failed (the report stays on disk). `run`: 'backup run' / 'verify run', as the details say it.
 */
export async function mailRunReport(
  input: RunMailInput,
  o: { run: string; mail: () => Promise<unknown>; markFailed: (error: string) => Promise<unknown> },
): Promise<RunMailResult> {
  setCurrentDetails(`Mail the report of ${o.run} ${input.runId} (target ${input.target})`);
  try {
    const sent = await o.mail();
    // to whom, as the mail's log line says it (drill W, session 40: "mailed", not to whom)
    const to = (sent as { recipients?: unknown } | undefined)?.recipients;
    setCurrentDetails(`Report of ${o.run} ${input.runId} mailed${Array.isArray(to) && to.length ? ` to ${escapeMarkdown(to.join(', '))}` : ''}`);
    return { sent: true };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = innermostMessage(err);
    await o.markFailed(error);
    setCurrentDetails(`Report of ${o.run} ${input.runId} not mailed: ${error}`);
    return { sent: false, error };
  }
}

/** The details' fields the live view gives (spread into renderRunDetails). */
export function liveDetails(live: FanOutLive) {
  const { rate, etaSeconds, sinceLastEndSeconds, inFlight, failures, failuresTotal } = live;
  return { rate, etaSeconds, sinceLastEndSeconds, inFlight, failures, failuresTotal };
}

/** The phases a claimed run (patch integration, rollback) ends in. */
const TERMINAL_PHASES: readonly string[] = ['completed', 'partial', 'failed'];
export const isTerminalPhase = (phase: string): boolean => TERMINAL_PHASES.includes(phase);

/** A claim's prerequisites (R-PI-2) as notes: while they are checked, and after a refusal. */
export function prerequisiteNotes(phase: string, prerequisites: { name: string; ok: boolean; detail: string }[]): string[] {
  if (phase !== 'prerequisites' && !(phase === 'failed' && prerequisites.some((q) => !q.ok))) return [];
  return prerequisites.map((q) => `${q.ok ? 'ok' : 'NOT MET'}: ${q.name}: ${q.detail}`);
}

/**
 * Closes a claimed run's ledger once (not cancellable: a cancelled run is closed too). `closed` is also set by
 * a claim that recorded its refusal itself: nothing to close then.
 */
export function runCloser<T>(close: (error?: string) => Promise<T>) {
  const c = {
    closed: false,
    close: (error?: string): Promise<T> => {
      c.closed = true;
      return CancellationScope.nonCancellable(() => close(error));
    },
  };
  return c;
}

/**
 * A claimed run that failed (a chunk after its retries, an activity of its first phases): its ledger closed
 * with the failure's message unless it was closed already, then the failed phase; the failure rethrown.
 * Cancellation and continue-as-new go through untouched.
 */
export async function failClaimedRun<T>(
  err: unknown,
  o: { closer: ReturnType<typeof runCloser<T>>; runId: number | null; phase: string; onClosed: (closed: T) => void; enterFailed: () => void },
): Promise<never> {
  if (isCancellation(err) || err instanceof ContinueAsNew) throw err;
  if (!o.closer.closed && o.runId !== null) {
    o.onClosed(await o.closer.close(innermostMessage(err)));
    o.enterFailed();
  } else if (!isTerminalPhase(o.phase)) o.enterFailed();
  throw err;
}

/** A claimed run's progress before its claim (its own fields added by the workflow). */
export function initialClaimedProgress(target: string): ClaimedRunProgress<'starting'> {
  return { runId: null, workflowId: workflowInfo().workflowId, target, phase: 'starting', prerequisites: [], notes: [], total: 0, done: 0, failed: 0 };
}

/**
 * Whether a run upserts its search attributes: only where it was started with them (the time-skipping test
 * server registers none); fixed at the first run and carried.
 */
export const withSearchAttributes = (carried?: { searchAttributes: boolean }): boolean => carried?.searchAttributes ?? workflowInfo().typedSearchAttributes.get(NightshiftKind) !== undefined;

/** `enter(phase)` of a claimed run: the phase, its search attribute (all of them, as the start set them), the details. */
export function claimedRunPhases<P extends string>(p: ClaimedRunProgress<P>, o: { kind: NightshiftKindValue; searchAttributes: boolean; details: () => void }) {
  return (phase: P): void => {
    p.phase = phase;
    if (o.searchAttributes) upsertSearchAttributes(nightshiftAttributes({ target: p.target, kind: o.kind, phase }));
    o.details();
  };
}

/** Histories recorded before a refused claim set the phase `failed` (it stayed `claiming`) replay without it. */
const CLAIM_REFUSED_PATCH = 'claim-refused-phase';

/**
 * A run's claim: when it fails (refused: another run holds the target; or failed for good), `refused` gets the reason
 * to set the phase and the details (the list and the page say so, not `claiming`) before the failure goes on.
 */
export async function claimOrSay<T>(claim: Promise<T>, refused: (reason: string) => void): Promise<T> {
  try {
    return await claim;
  } catch (err) {
    if (patched(CLAIM_REFUSED_PATCH)) refused(innermostMessage(err));
    throw err;
  }
}

/** `setPhase(phase)` of a batch-like run (backup batch, verification, prune): the phase attribute on a change only. */
export function phaseSetter<P extends string>(progress: { phase: P }) {
  return (phase: P): void => {
    if (progress.phase === phase) return;
    progress.phase = phase;
    upsertSearchAttributes(phaseAttribute(phase));
  };
}

/** The current details of a claimed run: its progress, the live view, its notes and next step. */
export function claimedRunDetails(kind: string, p: ClaimedRunProgress, live: FanOutLive, extra: Pick<RunDetails, 'nextStep' | 'notes' | 'restorePoints'>): void {
  setCurrentDetails(
    renderRunDetails({ kind, target: p.target, phase: p.phase, run: p.runId, done: p.done, total: p.total, failed: p.failed, ...liveDetails(live), running: !isTerminalPhase(p.phase), ...extra }),
  );
}

/**
 * The end of a claimed run that was closed: once every handler has finished, a partial run FAILS its workflow
 * (the first five failures in the message, the whole result in details[0]); else its result.
 */
export async function endClaimedRun<T>(closed: { state: string; failures: DossierFailure[]; failuresTotal: number; retryCommand?: string }, o: { type: string; message: string; result: T }): Promise<T> {
  await condition(allHandlersFinished);
  if (closed.state === 'partial') {
    throw partialRunFailure({ type: o.type, message: o.message, failures: closed.failures, shown: { first: 5, total: closed.failuresTotal }, next: closed.retryCommand, result: o.result });
  }
  return o.result;
}
