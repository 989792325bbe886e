import { Context } from '@temporalio/activity';
import { type DossierFailure, type FanOutChunkResult, type FanOutHeartbeat, type FanOutInFlight, type FanOutLedgerView, FAILURES_CAP, capFailures, oneLine } from '../domain/run-details';

/**
 * The activity side of the dossier fan-out engine (workflow side: workflows/fan-out.ts): one chunk of
 * dossier codes run with a bounded concurrency by a per-dossier function of the kind (backup, patch, ...).
 *
 * API (kept stable; the patch integration and the backup batch build on it):
 *
 *   const r = await runChunk({
 *     codes,                          // this chunk's codes, in order
 *     concurrency,                    // dossiers at once
 *     perDossier: async (code, signal) => ({ status: 'ok' | 'failed' | <kind's own>, error }),
 *                                     //   records the outcome in the ledger BEFORE it resolves; resolves
 *                                     //   undefined when nothing was recorded (the run was closed: stop);
 *                                     //   a throw ends the chunk (after the lanes in flight end) with that error
 *     alreadyDone: (codes) => codesInLedger(...),   // optional: the ledger's codes, skipped on a retry
 *     shouldStop: () => boolean,      // optional: checked before each dossier (a destination full elsewhere)
 *     timeBudgetMs,                   // optional: no new dossier after this long; the rest comes back in `remaining`
 *     onTick: () => void,             // optional: every heartbeat tick (keep the run row alive)
 *   });
 *   // r: { counts: {ok: n, failed: n, ...}, ok, failed, skipped, remaining, failures (capped), failuresTotal, stopped }
 *
 * - Heartbeats `{current: [{code, since}], done, of, resumeAt}` when a dossier starts, when it ends and
 *   every 2 s from a timer (a dossier locked for minutes keeps the chunk alive).
 * - A retried attempt resumes from its heartbeat details: codes before `resumeAt` all ended (the lanes
 *   take codes in order, so the ended prefix is exact), and `alreadyDone` (the ledger, the truth) skips
 *   the others that ended. Heartbeats of the older `{done: string[]}` shape are read too.
 * - Status 'ok' (and the kind's `okStatuses`) is success; every other status is a failure and joins `failures` (capped at 20, the
 *   newest kept) as `{code, status, error}`.
 * - `dossiersInFlight(workflowId)` gives the dossiers this process runs for a workflow now, with how long:
 *   the ledger-reading details activity of a kind adds it to what it read (a worker sees its own chunks).
 */

/** What the per-dossier function reports once it has recorded the dossier's outcome in the ledger. */
export interface DossierOutcome {
  status: string;
  error?: string | null;
  /** the ledger had the dossier already (this attempt was superseded): counted as skipped, not as an outcome */
  superseded?: boolean;
}

export interface ChunkRunOptions {
  codes: string[];
  concurrency: number;
  perDossier: (code: string, signal: AbortSignal | undefined) => Promise<DossierOutcome | undefined>;
  alreadyDone?: (codes: string[]) => Promise<Iterable<string>>;
  shouldStop?: () => boolean;
  timeBudgetMs?: number;
  onTick?: () => void;
  /** default 2000 */
  heartbeatEveryMs?: number;
  /** statuses that are a success besides 'ok' (a restore run's 'kept': already there, not a failure) */
  okStatuses?: readonly string[];
}

export interface ChunkRunResult extends FanOutChunkResult {
  /** the kind's shouldStop() or an unrecorded outcome stopped the lanes (`remaining` were not started) */
  stopped: boolean;
}

const HEARTBEAT_EVERY_MS = 2_000;

/** workflow id -> code -> start (ms): the dossiers in flight in this process. */
const inFlightByWorkflow = new Map<string, Map<string, number>>();

function track(workflowId: string | undefined, code: string, since: number): void {
  if (!workflowId) return;
  let m = inFlightByWorkflow.get(workflowId);
  if (!m) inFlightByWorkflow.set(workflowId, (m = new Map()));
  m.set(code, since);
}

function untrack(workflowId: string | undefined, code: string): void {
  const m = workflowId ? inFlightByWorkflow.get(workflowId) : undefined;
  if (!m) return;
  m.delete(code);
  if (m.size === 0) inFlightByWorkflow.delete(workflowId!);
}

export function dossiersInFlight(workflowId: string, now = Date.now()): FanOutInFlight[] {
  const m = inFlightByWorkflow.get(workflowId);
  if (!m) return [];
  return [...m.entries()].sort((a, b) => a[1] - b[1]).map(([code, since]) => ({ code, seconds: Math.max(0, Math.round((now - since) / 1000)) }));
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/**
 * A claimed run's details refresh (patch integration, rollback): its ledger's counts and newest failed
 * items, and the dossiers this process runs for the workflow now.
 */
export function ledgerView(
  counts: { done: number; failed: number; sinceLastEndSeconds: number | null },
  failures: { code: string; error: string | null }[],
  workflowId: string,
): FanOutLedgerView {
  return {
    done: counts.done,
    failed: counts.failed,
    failures: failures.map((f) => ({ code: f.code, status: 'failed', error: oneLine(f.error ?? 'failed') })),
    failuresTotal: counts.failed,
    sinceLastEndSeconds: counts.sinceLastEndSeconds,
    inFlight: dossiersInFlight(workflowId),
  };
}

/** The codes an earlier attempt's heartbeat says ended (new shape: the prefix before resumeAt; old shape: the list). */
export function endedPerHeartbeat(codes: string[], details: unknown): string[] {
  if (!details || typeof details !== 'object') return [];
  const d = details as Partial<FanOutHeartbeat> & { done?: unknown };
  if (Array.isArray(d.done)) return d.done.filter((c): c is string => typeof c === 'string');
  const at = typeof d.resumeAt === 'number' && Number.isInteger(d.resumeAt) ? Math.max(0, Math.min(d.resumeAt, codes.length)) : 0;
  return codes.slice(0, at);
}

export async function runChunk(o: ChunkRunOptions): Promise<ChunkRunResult> {
  const ctx = activityContext();
  const signal = ctx?.cancellationSignal;
  const codes = o.codes;
  const skip = new Set<string>(endedPerHeartbeat(codes, ctx?.info.heartbeatDetails));
  if (o.alreadyDone) for (const c of await o.alreadyDone(codes.filter((x) => !skip.has(x)))) skip.add(c);
  const todo = codes.filter((c) => !skip.has(c));

  const result: ChunkRunResult = { counts: {}, ok: 0, failed: 0, skipped: codes.length - todo.length, remaining: [], failures: [], failuresTotal: 0, stopped: false };
  const workflowId = ctx?.info.workflowExecution?.workflowId;
  const current = new Map<string, number>();
  /** index in todo of each code, and which ended: resumeAt is the count of todo's ended prefix plus the skipped */
  const ended = new Array<boolean>(todo.length).fill(false);
  let prefix = 0;
  let done = 0;

  const heartbeat = () => {
    if (!ctx) return;
    // resumeAt counts in `codes`: the skipped ones sit anywhere, so it is exact only as an index of todo's prefix mapped back
    const resumeAt = prefix === todo.length ? codes.length : codes.indexOf(todo[prefix]!);
    const details: FanOutHeartbeat = {
      current: [...current.entries()].map(([code, since]) => ({ code, since: new Date(since).toISOString() })),
      done: result.skipped + done,
      of: codes.length,
      resumeAt,
    };
    ctx.heartbeat(details);
  };
  heartbeat();
  const timer = setInterval(() => {
    heartbeat();
    o.onTick?.();
  }, o.heartbeatEveryMs ?? HEARTBEAT_EVERY_MS);
  const deadline = o.timeBudgetMs === undefined ? Infinity : Date.now() + o.timeBudgetMs;
  let next = 0;
  let failure: { err: unknown } | undefined;

  async function one(i: number): Promise<void> {
    const code = todo[i]!;
    const since = Date.now();
    current.set(code, since);
    track(workflowId, code, since);
    heartbeat();
    let outcome: DossierOutcome | undefined;
    try {
      outcome = await o.perDossier(code, signal);
    } finally {
      current.delete(code);
      untrack(workflowId, code);
    }
    if (!outcome) {
      result.stopped = true;
      return;
    }
    ended[i] = true;
    while (prefix < todo.length && ended[prefix]) prefix++;
    if (outcome.superseded) result.skipped++;
    else count(code, outcome);
    heartbeat();
  }

  function count(code: string, outcome: DossierOutcome): void {
    done++;
    result.counts[outcome.status] = (result.counts[outcome.status] ?? 0) + 1;
    if (outcome.status === 'ok' || o.okStatuses?.includes(outcome.status)) {
      result.ok++;
      return;
    }
    result.failed++;
    result.failuresTotal++;
    result.failures.push({ code, status: outcome.status, error: outcome.error ?? '' });
    if (result.failures.length > FAILURES_CAP) result.failures.shift();
  }

  async function lane(): Promise<void> {
    while (next < todo.length && !signal?.aborted && !result.stopped && !failure) {
      if (o.shouldStop?.()) {
        result.stopped = true;
        break;
      }
      if (Date.now() > deadline) return;
      try {
        await one(next++);
      } catch (err) {
        failure ??= { err };
      }
    }
  }

  try {
    await Promise.all(Array.from({ length: Math.min(Math.max(1, o.concurrency), todo.length) }, lane));
  } finally {
    clearInterval(timer);
  }
  if (failure) throw failure.err;
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('chunk cancelled');
  result.remaining = todo.slice(next);
  result.failures = capFailures(result.failures);
  return result;
}

export type { DossierFailure };
