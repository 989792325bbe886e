import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, WorkflowNotFoundError, type UpdateDefinition } from '@temporalio/common';
// the client library only once a call is made: the CLI's start stays light (test/structure/cli-start.test.ts)
import { temporalClientLibrary } from '../workers/resources';
import { maintenanceStatusQuery, type MaintenanceStatus, type MaintenanceWindowInput } from '../workflows/maintenance-window.api';

/**
 * The calls the CLI makes to a maintenance window's workflow, each bounded: a query or an Update waits for a worker
 * (the server's own wait is far longer), and an Update given up on by the operator still applies when a worker comes.
 */

/** A worker's long poll lasts ~60 s: a poller the server saw within this long still polls (a killed one stays listed ~5 min); doctor's Worker line counts so too. */
export const POLLER_RECENT_S = 90;

/** How long an Update waits for a worker to accept it (its handler may then run long: a cancel waits for the payload). */
export const UPDATE_ACCEPT_MS = 30_000;

/** How long a query waits for a worker to answer (as `maintenance status`). */
export const QUERY_MS = 5_000;

/** A protobuf timestamp of the server's in milliseconds; undefined when it does not say. */
export function timestampMs(ts: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined): number | undefined {
  if (!ts?.seconds) return undefined;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : ts.seconds.toNumber();
  return seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** A worker the server lists as polling a task queue. */
export interface Poller {
  identity: string;
  /** when the server last saw it poll; undefined when the server does not say */
  lastAccessMs?: number;
}

type PollerInfo = { identity?: string | null; lastAccessTime?: Parameters<typeof timestampMs>[0] };

/** The pollers of a DescribeTaskQueue answer. */
export function pollersOf(answer: { pollers?: PollerInfo[] | null }): Poller[] {
  return (answer.pollers ?? []).map((p) => ({ identity: p.identity ?? '?', lastAccessMs: timestampMs(p.lastAccessTime) }));
}

/** Still polling: seen within POLLER_RECENT_S (or the server does not say when); a killed worker stays listed for minutes. */
export function pollsStill(p: Poller, nowMs: number): boolean {
  return p.lastAccessMs === undefined || nowMs - p.lastAccessMs <= POLLER_RECENT_S * 1000;
}

/** The workers polling a task queue (only those seen within the long poll count). */
export async function pollingWorkers(client: Client, taskQueue: string, nowMs = Date.now()): Promise<string[]> {
  const answer = await client.withDeadline(nowMs + QUERY_MS, () =>
    client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: taskQueue } }),
  );
  return pollersOf(answer)
    .filter((p) => pollsStill(p, nowMs))
    .map((p) => p.identity);
}

/**
 * A window `maintenance schedule` withdrew (no worker picked it up within its pickup limit) whose workflow still waits on
 * the server: no task of it ever started, so nothing was done, and a worker taking it now would only end it.
 */
export async function withdrawnWindow(
  handle: WorkflowHandle,
  o: { nowMs?: number; /** the caller's own description of it, when it has one */ described?: WorkflowExecutionDescription } = {},
): Promise<{ pickupWithinSeconds: number } | undefined> {
  const nowMs = o.nowMs ?? Date.now();
  const d = o.described ?? (await handle.describe());
  if (d.status.name !== 'RUNNING') return undefined;
  const events = (await handle.fetchHistory()).events ?? [];
  if (events.some((e) => e.workflowTaskStartedEventAttributes)) return undefined;
  const payload = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const within = payload ? defaultPayloadConverter.fromPayload<MaintenanceWindowInput>(payload).pickupWithinSeconds : undefined;
  // within its limit a worker may still take it (another operator's schedule under way): not withdrawn yet
  if (within === undefined || nowMs - d.startTime.getTime() <= within * 1000) return undefined;
  return { pickupWithinSeconds: within };
}

/**
 * Ends a withdrawn window's workflow so that its id is free for the next `schedule` (R-MW-2 refuses a second one while it
 * runs). Safe: no task of it started, and one started past the pickup limit ends the window itself, doing nothing.
 * False when it had ended already.
 */
export async function endWithdrawn(handle: WorkflowHandle, reason: string): Promise<boolean> {
  try {
    await handle.terminate(reason);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/** No worker answered: `sent` says whether the Update reached the server (it then applies when a worker takes it). */
export class NoAnswer extends Error {
  constructor(
    readonly sent: boolean,
    options?: { cause?: unknown },
  ) {
    super(sent ? 'no worker accepted the update in time' : 'no worker answered the query in time', options);
  }
}

/**
 * The call ran out of its deadline: DEADLINE_EXCEEDED, or CANCELLED once the deadline has passed (gRPC says so of a call
 * whose deadline struck while the machine was loaded: seen in a test, "1 CANCELLED: Call cancelled" printed raw).
 */
function deadlineExceeded(err: unknown, deadlineMs: number): boolean {
  const { isGrpcServiceError } = temporalClientLibrary();
  const cause = (err as { cause?: unknown }).cause;
  return [err, cause].some((e) => isGrpcServiceError(e) && (e.code === 4 || (e.code === 1 && Date.now() >= deadlineMs)));
}

export interface WindowCalls {
  handle: WorkflowHandle;
  /** the window's status query, within QUERY_MS (NoAnswer, sent false, past it) */
  status(): Promise<MaintenanceStatus>;
  /** an Update accepted within `acceptMs` (NoAnswer, sent true, past it), then its result however long its handler runs */
  update<Args extends unknown[]>(def: UpdateDefinition<MaintenanceStatus, Args>, ...args: Args): Promise<MaintenanceStatus>;
}

export function windowCalls(client: Client, handle: WorkflowHandle, o: { acceptMs?: number; queryMs?: number; onSlowResult?: () => void } = {}): WindowCalls {
  return {
    handle,
    async status() {
      const deadline = Date.now() + (o.queryMs ?? QUERY_MS);
      try {
        return await client.withDeadline(deadline, () => handle.query(maintenanceStatusQuery));
      } catch (err) {
        if (deadlineExceeded(err, deadline)) throw new NoAnswer(false, { cause: err });
        throw err;
      }
    },
    async update(def, ...args) {
      let accepted;
      const deadline = Date.now() + (o.acceptMs ?? UPDATE_ACCEPT_MS);
      try {
        accepted = await client.withDeadline(deadline, () =>
          // by name: the overloads tell no arguments from some, which a generic Args cannot (the definition typed the call above)
          handle.startUpdate<MaintenanceStatus, [unknown, ...unknown[]]>(def.name, { args: args as unknown as [unknown, ...unknown[]], waitForStage: 'ACCEPTED' }),
        );
      } catch (err) {
        if (err instanceof temporalClientLibrary().WorkflowUpdateRPCTimeoutOrCancelledError || deadlineExceeded(err, deadline)) throw new NoAnswer(true, { cause: err });
        throw err;
      }
      // accepted: the window runs it now; a long wait (a payload runs to its end) is said once, not left silent
      const slow = o.onSlowResult && setTimeout(o.onSlowResult, o.acceptMs ?? UPDATE_ACCEPT_MS);
      try {
        return await accepted.result();
      } finally {
        if (slow) clearTimeout(slow);
      }
    },
  };
}
