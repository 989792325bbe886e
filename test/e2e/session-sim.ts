import { performance } from 'node:perf_hooks';
import { GateClient, GateClientError } from '../../gate/client';
import type { LoginAnswer } from '../../gate/contract';

/**
 * Simulated users of the business application talking to the gate over real HTTP (R-SE-1) through the
 * gate's own client module (gate/client.ts): logins, heartbeats that obey the gate's answers,
 * acknowledgement of close orders (R-MW-7), a login prober. Shared by
 * test/e2e/maintenance-sessions.test.ts and bench/maintenance-sessions.ts; it records what each client
 * saw (wall-clock times, comparable with the database's now() on this machine) and asserts nothing itself.
 */

export { GateClient, GateClientError };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** A refusal is an outcome here, not an error: its status and body are recorded. */
async function outcome<T>(call: Promise<T>): Promise<{ status: number; value?: T; refusal?: GateClientError }> {
  try {
    return { status: 0, value: await call };
  } catch (err) {
    if (err instanceof GateClientError) return { status: err.status, refusal: err };
    throw err;
  }
}

export interface LoginOutcome {
  status: number;
  session?: LoginAnswer;
  /** the refusal's text for the user (423) */
  message?: string;
}

export async function login(client: GateClient, target: string, user: string): Promise<LoginOutcome> {
  const r = await outcome(client.login(target, { user, client: 'e2e' }));
  if (r.value) return { status: 201, session: r.value };
  const message = r.refusal?.body.message;
  return { status: r.status, message: typeof message === 'string' ? message : undefined };
}

export interface Beat {
  /** Date.now() when sent / answered */
  sentAt: number;
  receivedAt: number;
  /** round trip (performance.now) */
  ms: number;
  status: number;
  action?: 'continue' | 'close';
  message?: string;
  closeBy?: string;
  error?: string;
}

export interface SessionTrace {
  user: string;
  sessionId: string;
  token: string;
  /** Whether this user clicks OK on the close order (logout), or ignores it. */
  acknowledges: boolean;
  loginAnnouncement?: string;
  beats: Beat[];
  /** The first close order seen. */
  order?: { receivedAt: number; closeBy: string; message?: string };
  logout?: { sentAt: number; receivedAt: number; status: number; reason?: string };
  /** When the gate first answered 404 (session closed): the application closes. */
  goneAt?: number;
}

export interface SessionOptions {
  intervalMs: number;
  /** Delay of the first heartbeat, to spread sessions over one interval. */
  firstDelayMs: number;
  /** How long the user takes to click OK after the order (acknowledging sessions only). */
  ackDelayMs: number;
  stop: () => boolean;
  onBeat?: (b: Beat) => void;
}

/** Logs n users in, at most `concurrency` at a time; every login must be accepted. */
export async function loginAll(
  client: GateClient,
  target: string,
  n: number,
  acknowledges: (i: number) => boolean,
  concurrency = 16,
): Promise<SessionTrace[]> {
  const traces: SessionTrace[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) {
        const user = `user${String(i).padStart(4, '0')}`;
        const r = await login(client, target, user);
        if (!r.session) throw new Error(`login of ${user} refused: ${r.status} ${r.message ?? ''}`);
        const { sessionId, token, announcement } = r.session;
        traces[i] = { user, sessionId, token, acknowledges: acknowledges(i), loginAnnouncement: announcement, beats: [] };
      }
    }),
  );
  return traces;
}

/** One application instance: heartbeats on a fixed schedule and does what the gate answers. */
export async function runSession(client: GateClient, s: SessionTrace, o: SessionOptions): Promise<void> {
  let next = performance.now() + o.firstDelayMs;
  while (!o.stop()) {
    await sleep(next - performance.now());
    if (o.stop()) return;
    next += o.intervalMs;
    const sentAt = Date.now();
    const t0 = performance.now();
    const beat: Beat = { sentAt, receivedAt: 0, ms: 0, status: 0 };
    try {
      const r = await outcome(client.heartbeat(s));
      beat.status = r.value ? 200 : r.status;
      if (r.value) Object.assign(beat, { action: r.value.action, message: r.value.message, closeBy: r.value.action === 'close' ? r.value.closeBy : undefined });
    } catch (err) {
      beat.error = String(err);
    }
    beat.receivedAt = Date.now();
    beat.ms = performance.now() - t0;
    s.beats.push(beat);
    o.onBeat?.(beat);
    if (beat.status === 404) {
      s.goneAt = beat.receivedAt;
      return;
    }
    if (beat.action === 'close') {
      s.order ??= { receivedAt: beat.receivedAt, closeBy: beat.closeBy!, message: beat.message };
      if (s.acknowledges) {
        await sleep(o.ackDelayMs);
        const logoutSent = Date.now();
        const r = await outcome(client.logout(s));
        s.logout = { sentAt: logoutSent, receivedAt: Date.now(), status: r.value ? 200 : r.status, reason: r.value?.reason };
        return;
      }
    }
  }
}

export interface LoginAttempt {
  sentAt: number;
  receivedAt: number;
  status: number;
  announcement?: string;
  message?: string;
  error?: string;
}

/**
 * A user trying to log in every intervalMs (or every intervalMs(Date.now()) ms: denser around an
 * instant of interest); an accepted session is logged out at once. By default a probe waits for the one
 * before (sent after means decided after, which the e2e test's orderings rely on); with maxInFlight > 1 it
 * does not, so that the schedule holds while the gate is slow (the bench's sampling of the start instant).
 * Attempts are pushed into `attempts` as they complete, so the caller can watch them, and sorted by
 * sending time at the end.
 */
export async function probeLogins(
  client: GateClient,
  target: string,
  intervalMs: number | ((now: number) => number),
  stop: () => boolean,
  attempts: LoginAttempt[] = [],
  { maxInFlight = 1 }: { maxInFlight?: number } = {},
): Promise<LoginAttempt[]> {
  const inFlight = new Set<Promise<void>>();
  const attempt = async (n: number): Promise<void> => {
    const a: LoginAttempt = { sentAt: Date.now(), receivedAt: 0, status: 0 };
    try {
      const r = await login(client, target, `probe${n}`);
      a.receivedAt = Date.now();
      a.status = r.status;
      a.announcement = r.session?.announcement;
      a.message = r.message;
      if (r.session) await client.logout(r.session);
    } catch (err) {
      a.receivedAt = Date.now();
      a.error = String(err);
    }
    attempts.push(a);
  };
  let next = performance.now();
  for (let n = 0; !stop(); n++) {
    await sleep(next - performance.now());
    next += typeof intervalMs === 'number' ? intervalMs : intervalMs(Date.now());
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    const p: Promise<void> = attempt(n).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return attempts.sort((a, b) => a.sentAt - b.sentAt);
}

/** Percentile of a sorted array (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
