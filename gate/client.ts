import http from 'node:http';
import https from 'node:https';
import type { z } from 'zod';
import {
  API_KEY_HEADER,
  errorAnswer,
  routes,
  type BackupDisabledAnswer,
  type BackupStartedAnswer,
  type DossierClosedAnswer,
  type DossierOpenedAnswer,
  type HeartbeatAnswer,
  type LoginAnswer,
  type LogoutAnswer,
  type ReadyAnswer,
  type RouteContract,
  type RouteName,
  type StatusAnswer,
} from './contract';
import type { BackupEvent } from '../workflows/backup-dossier.api';

/**
 * A typed client of the gate for a Node business application (issue 9): one method per route of
 * gate/contract.ts, answers parsed with the contract's zod schemas, every refusal a GateClientError.
 * Node's own http/https with a keep-alive agent and nothing else (Node 20's fetch made about 650
 * requests/s here where node:http made 4,000: too slow for a gate serving thousands of sessions).
 *
 *   const gate = new GateClient({ baseUrl: 'https://gate.example:8780', apiKey: process.env.NIGHTSHIFT_GATE_KEY!, ca });
 *   const session = await gate.login('main', { user: 'alice', client: 'desk-12' });
 *   const order = await gate.heartbeat(session); // every session.heartbeatSeconds
 *   if (order.action === 'close') { show(order.message); await gate.logout(session); }
 */

export interface GateClientOptions {
  /** http://host:port or https://host:port (a path prefix is kept: https://proxy/gate) */
  baseUrl: string;
  /** the application's key for the target(s) it calls (nightshift gate keys create) */
  apiKey: string;
  /** PEM of the CA that signed the gate's certificate, when it is not a public one */
  ca?: string | Buffer;
  /** a client certificate and its key, when the gate requires one (NIGHTSHIFT_GATE_TLS_CLIENT_CA) */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Accept-Language of every request (the user's language for the notices; the gate's default is French) */
  locale?: string;
  /** a request that has not answered after this many ms fails (default 10 s) */
  timeoutMs?: number;
  /** kept-alive connections at most (default 64) */
  maxSockets?: number;
}

/** What the session routes need from a login answer. */
export interface SessionRef {
  sessionId: string;
  token: string;
}

/** The gate said no (any status outside the route's 2xx), or answered outside its contract. */
export class GateClientError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly field: string | undefined,
    /** the whole answer body: a refused login (423) carries the user's text in body.message and body.end */
    readonly body: Record<string, unknown>,
    /** seconds, from Retry-After (429) */
    readonly retryAfter?: number,
  ) {
    super(`gate answered ${status}: ${error}${field ? ` (${field})` : ''}`);
    this.name = 'GateClientError';
  }
}

export interface CallOptions {
  params?: Record<string, string>;
  session?: SessionRef;
  body?: unknown;
  /** overrides the client's locale for this request */
  locale?: string;
  /** documented statuses outside 2xx that are answers here, not refusals */
  answerStatuses?: number[];
}

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export class GateClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly options: GateClientOptions) {
    this.base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl.slice(0, -1) : options.baseUrl);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new Error('baseUrl must be an http:// or https:// URL');
    const common = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    if (this.base.protocol === 'https:') {
      this.transport = https;
      this.agent = new https.Agent({ ...common, ca: options.ca, cert: options.cert, key: options.key });
    } else {
      this.transport = http;
      this.agent = new http.Agent(common);
    }
  }

  /** A target's state for the login page (R-SE-3, R-MW-4..6). */
  status(target: string, o: { locale?: string } = {}): Promise<StatusAnswer> {
    return this.call('status', { params: { target }, locale: o.locale });
  }

  /** Logs a user in; a refusal while a window refuses logins is a GateClientError 423 whose body.message is the text to show. */
  login(target: string, body: { user: string; client?: string }, o: { locale?: string } = {}): Promise<LoginAnswer> {
    return this.call('login', { params: { target }, body, locale: o.locale });
  }

  /** Every heartbeatSeconds; 'close' carries the order to show and its deadline (R-MW-7); a 404 means the session is gone. */
  heartbeat(session: SessionRef, o: { locale?: string } = {}): Promise<HeartbeatAnswer> {
    return this.call('heartbeat', { params: { id: session.sessionId }, session, locale: o.locale });
  }

  /** Logout; after a close order, the acknowledgement. */
  logout(session: SessionRef): Promise<LogoutAnswer> {
    return this.call('logout', { params: { id: session.sessionId }, session });
  }

  openDossier(session: SessionRef, code: string): Promise<DossierOpenedAnswer> {
    return this.call('openDossier', { params: { id: session.sessionId, code }, session });
  }

  closeDossier(session: SessionRef, code: string): Promise<DossierClosedAnswer> {
    return this.call('closeDossier', { params: { id: session.sessionId, code }, session });
  }

  /** R-BK-9: started (202) or off by the settings (200, triggered: false); in use is a GateClientError 409. */
  backupDossier(session: SessionRef, code: string, event: BackupEvent): Promise<BackupStartedAnswer | BackupDisabledAnswer> {
    return this.call('backupDossier', { params: { id: session.sessionId, code }, session, body: { event } });
  }

  /** Readiness of the key's target (its database, pinged by this request): 200 ready, 503 not; 503 is an answer here. */
  ready(): Promise<ReadyAnswer> {
    return this.call('ready', { answerStatuses: [503] }) as Promise<ReadyAnswer>;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  /** One route of the contract: its 2xx answer parsed with its schema, anything else thrown as a GateClientError. */
  async call<N extends RouteName>(name: N, o: CallOptions = {}): Promise<SuccessOf<N>> {
    const route: RouteContract = routes[name];
    const headers: Record<string, string> = { [API_KEY_HEADER]: this.options.apiKey, accept: 'application/json' };
    if (o.session) headers.authorization = `Bearer ${o.session.token}`;
    const locale = o.locale ?? this.options.locale;
    if (locale) headers['accept-language'] = locale;
    let payload: string | undefined;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    }
    const raw = await this.send(route.method, pathOf(route.path, o.params ?? {}), headers, payload);
    const documented = route.responses[raw.status];
    let body: unknown;
    try {
      body = raw.text === '' ? undefined : JSON.parse(raw.text);
    } catch {
      throw new GateClientError(raw.status, 'the answer is not JSON', undefined, {});
    }
    if ((raw.status >= 200 && raw.status < 300) || o.answerStatuses?.includes(raw.status)) {
      const parsed = documented?.schema?.safeParse(body);
      if (!parsed?.success) throw new GateClientError(raw.status, `an answer outside the contract of ${route.operationId}`, undefined, asRecord(body));
      return parsed.data as SuccessOf<N>;
    }
    const e = errorAnswer.safeParse(body);
    const retry = Number(raw.headers['retry-after']);
    throw new GateClientError(
      raw.status,
      e.success ? e.data.error : `HTTP ${raw.status}`,
      e.success ? e.data.field : undefined,
      asRecord(body),
      Number.isFinite(retry) ? retry : undefined,
    );
  }

  private send(method: string, path: string, headers: Record<string, string>, payload: string | undefined): Promise<RawAnswer> {
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const req = this.transport.request(
        { protocol: this.base.protocol, hostname: this.base.hostname, port: this.base.port, path: this.base.pathname.replace(/\/$/, '') + path, method, headers, agent: this.agent },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`the gate did not answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

/** The union of a route's documented 2xx answers. */
export type SuccessOf<N extends RouteName> = {
  [S in keyof (typeof routes)[N]['responses']]: S extends 200 | 201 | 202
    ? (typeof routes)[N]['responses'][S] extends { schema: z.ZodType }
      ? z.infer<(typeof routes)[N]['responses'][S]['schema']>
      : never
    : never;
}[keyof (typeof routes)[N]['responses']];

/** Fills a path template; every value is one encoded segment (a code cannot climb to another route). */
function pathOf(template: string, params: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(v);
  });
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
