import http from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * Simulated users of the business application talking to the gate over real HTTP (R-SE-1): logins,
 * heartbeats that obey the gate's answers, acknowledgement of close orders (R-MW-7), a login prober.
 * Shared by test/e2e/maintenance-sessions.test.ts and bench/maintenance-sessions.ts; it records what
 * each client saw (wall-clock times, comparable with the database's now() on this machine) and asserts
 * nothing itself. node:http with a keep-alive agent: Node 20's fetch is far slower here.
 */

export interface HttpReply {
  status: number;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

export class GateClient {
  private readonly agent: http.Agent;

  constructor(
    readonly base: string,
    maxSockets = 128,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request(method: string, path: string, options: { headers?: Record<string, string>; body?: unknown } = {}): Promise<HttpReply> {
    const headers: Record<string, string> = { ...options.headers };
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    return new Promise((resolve, reject) => {
      const req = http.request(`${this.base}${path}`, { method, headers, agent: this.agent }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, json: <T>() => JSON.parse(data) as T }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Closes the kept-alive sockets (before the gate closes, so that it does not wait for them). */
  close(): void {
    this.agent.destroy();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

export interface LoginReply {
  sessionId: string;
  token: string;
  announcement?: string;
}

export async function login(client: GateClient, target: string, user: string): Promise<{ status: number; body: LoginReply & { message?: string } }> {
  const res = await client.request('POST', `/v1/targets/${target}/sessions`, { body: { user, client: 'e2e' } });
  return { status: res.status, body: res.json() };
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
        if (r.status !== 201) throw new Error(`login of ${user} refused: ${r.status} ${JSON.stringify(r.body)}`);
        traces[i] = { user, sessionId: r.body.sessionId, token: r.body.token, acknowledges: acknowledges(i), loginAnnouncement: r.body.announcement, beats: [] };
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
      const res = await client.request('POST', `/v1/sessions/${s.sessionId}/heartbeat`, { headers: auth(s.token) });
      beat.status = res.status;
      if (res.status === 200) {
        const body = res.json<{ action: 'continue' | 'close'; message?: string; closeBy?: string }>();
        Object.assign(beat, { action: body.action, message: body.message, closeBy: body.closeBy });
      }
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
        const res = await client.request('DELETE', `/v1/sessions/${s.sessionId}`, { headers: auth(s.token) });
        s.logout = { sentAt: logoutSent, receivedAt: Date.now(), status: res.status, reason: res.status === 200 ? res.json<{ reason: string }>().reason : undefined };
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
 * A user trying to log in every intervalMs; an accepted session is logged out at once. Attempts are
 * pushed into `attempts` as they complete, so the caller can watch them.
 */
export async function probeLogins(
  client: GateClient,
  target: string,
  intervalMs: number,
  stop: () => boolean,
  attempts: LoginAttempt[] = [],
): Promise<LoginAttempt[]> {
  let next = performance.now();
  for (let n = 0; !stop(); n++) {
    await sleep(next - performance.now());
    next += intervalMs;
    const a: LoginAttempt = { sentAt: Date.now(), receivedAt: 0, status: 0 };
    try {
      const r = await login(client, target, `probe${n}`);
      a.receivedAt = Date.now();
      a.status = r.status;
      a.announcement = r.body.announcement;
      a.message = r.body.message;
      if (r.status === 201) await client.request('DELETE', `/v1/sessions/${r.body.sessionId}`, { headers: auth(r.body.token) });
    } catch (err) {
      a.receivedAt = Date.now();
      a.error = String(err);
    }
    attempts.push(a);
  }
  return attempts;
}

/** Percentile of a sorted array (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
