import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit, { type CreateRateLimitOptions } from '@fastify/rate-limit';
import type pg from 'pg';
import pino from 'pino';
import { UsageError, type Config } from '../config/config';
import {
  announcementText,
  closeOrderText,
  gateStateAt,
  heartbeatSeconds,
  pickLocale,
  refusalText,
  type Locale,
} from '../domain/maintenance';
import { DOSSIER_IN_USE_MESSAGE } from '../domain/failures';
import { connectTemporalClient, type TargetPools } from '../workers/resources';
import { checkBackupTrigger, disabledAnswer, startTriggeredBackup, triggeredAnswer, type StartedTrigger, type TriggeredPlan } from './backup-trigger';
import { cachedFor } from './cached-for';
import { HeartbeatBatcher } from './heartbeats';
import { noticeAt, withOperatorMessage, type ActiveWindow, type TextSettings } from './notices';
import { openApiText } from './openapi';
import { pageUnknown, renderPage, type PageContent, type TargetNotice } from './page';
import {
  backupTriggerBody,
  bearerToken,
  dossierParams,
  GateError,
  isKnownTargetName,
  localeHeaders,
  loginBody,
  type LoginBody,
  noBody,
  parsePart,
  sessionParams,
  targetParams,
} from './requests';
import * as store from './store';
import { openDossier } from '../store/gate/open-dossier';
import { openSession } from '../store/gate/open-session';
import { purgeSessions } from '../store/gate/purge-sessions';
import { databaseOutage } from '../store/server/outage';
import { KEY_HEADER, KeyRing, type KeyCheck } from './keys';
import { GateMetrics, serveMetrics, type KeyOutcome } from './metrics';
import { lazyTemporal, TemporalUnavailable, type TemporalAccess } from './temporal';
import { readTlsOptions } from './tls';

/**
 * The HTTP session gate (issue 3): the business application asks it before login and while logged in
 * (R-SE-1..3, R-MW-4..7). Every answer is computed from the target database and its clock, so several
 * gate processes can serve one target and refusal starts at the start instant without any worker.
 *
 * On a network (issue 9): every /v1 route needs an API key of its target (R-SE-4, header
 * X-Nightshift-Key; the end-user's session token stays in Authorization); logins are rate-limited per
 * key and per client address, open sessions per key and open dossiers per session are capped (R-SE-5);
 * request, header and keep-alive timeouts and a connection cap bound what a slow or greedy client holds;
 * fastify's own refusals answer {error, field} without echoing the input. Public: `/` (the notices a
 * user's browser shows, `?target=NAME` one target's; no database state or counts), `/healthz` (liveness, says
 * nothing), `/readyz` (ready while one target answers, degraded when one does not; the key's target's own with a key).
 */

declare module 'fastify' {
  interface FastifyRequest {
    /** the API key of a /v1 request, once checked */
    gateKey: { target: string; keyId: string } | null;
    /** a login's body, parsed once before the login limits count it */
    login: LoginBody | null;
  }
}

export interface GateOptions {
  config: Config;
  pools: TargetPools;
  /** fastify's logger; off by default (tests), startGate passes the configured level; a stream only for tests reading the lines */
  logger?: boolean | { level: string; stream?: { write(line: string): void } };
  /**
   * Starts the R-BK-9 backups; default: a client of config.temporal connected on first use, so that the
   * gate serves logins while Temporal is down. The gate closes it.
   */
  temporal?: TemporalAccess;
  /** counters of key checks and limit refusals; default: a new registry (startGate serves it) */
  metrics?: GateMetrics;
  /** how often the key hashes are re-read (ms); default config.gate.keyRefreshSeconds */
  keyRefreshMs?: number;
  /** told of every route fastify registers (the contract test compares them with gate/contract.ts) */
  onRoute?: (route: { method: string; url: string }) => void;
}

/** How long a backup route waits for Temporal's frontend before answering 503. */
export const TEMPORAL_CONNECT_TIMEOUT = '2s';

/** Small bodies only: the largest legitimate one is {user, client} (~300 bytes). */
export const BODY_LIMIT = 16 * 1024;

/**
 * Sent on answers written outside fastify's hooks (client errors, bad URLs): the same as helmet's (drill G found only
 * three of them on a 414, 431, 408 or malformed request; HSTS is on the answers fastify writes).
 */
const BARE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

/** How often Node checks request and header timeouts (its default, 30 s, would let a slow body live 30 s more). */
const TIMEOUT_CHECK_MS = 1000;

export async function buildGate({
  config,
  pools,
  logger = false,
  temporal: temporalAccess,
  metrics = new GateMetrics(),
  keyRefreshMs = config.gate.keyRefreshSeconds * 1000,
  onRoute,
}: GateOptions): Promise<FastifyInstance> {
  const targets = config.targets.map((t) => t.name);
  const texts: TextSettings = { appName: config.appName, timeZone: config.timeZone };
  const timeout = config.sessionTimeoutSeconds;
  const limits = config.gate;
  const sessions = new SessionLocator(pools);
  // R-SE-1: the heartbeats of one event-loop turn go to their target in one statement (gate/heartbeats.ts)
  const heartbeats = new HeartbeatBatcher(timeout);
  const temporal = temporalAccess ?? lazyTemporal(() => connectTemporalClient(config, TEMPORAL_CONNECT_TIMEOUT));
  const tls = readTlsOptions(limits.tls);
  const requestTimeout = limits.requestTimeoutSeconds * 1000;
  const keepAliveTimeout = limits.keepAliveTimeoutSeconds * 1000;
  const serverOptions: http.ServerOptions = {
    requestTimeout,
    headersTimeout: Math.min(requestTimeout, 5000),
    keepAliveTimeout,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  };

  const app = Fastify({
    // ISO times, as the worker's log (workers/logger.ts): one format for an operator reading both
    logger: typeof logger === 'object' ? { ...logger, timestamp: pino.stdTimeFunctions.isoTime } : logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 100 },
    return503OnClosing: true,
    trustProxy: limits.trustedProxies.length ? limits.trustedProxies : false,
    // the server is ours (serverFactory): this only makes fastify's own "Server listening at" line say https
    ...(tls ? { https: true as const } : {}),
    serverFactory: (handler) => {
      // a TLS handshake within the headers' limit, as a request's headers (Node's default, 120 s, let idle sockets fill
      // the connection cap for free: gate drill)
      const server = tls ? https.createServer({ ...tls, ...serverOptions, handshakeTimeout: serverOptions.headersTimeout }, handler) : http.createServer(serverOptions, handler);
      server.keepAliveTimeout = keepAliveTimeout;
      server.requestTimeout = requestTimeout;
      // an idle socket with no request in flight is closed by keepAliveTimeout; this only bounds the rest
      server.setTimeout(Math.max(requestTimeout, keepAliveTimeout) + 30_000);
      server.maxConnections = limits.maxConnections;
      server.on('drop', () => metrics.limitRefusal('all', 'none', 'connections'));
      return server as unknown as http.Server;
    },
    clientErrorHandler: (err: Error & { code?: string }, socket: net.Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, reason, body] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', { error: 'request timeout: the request must arrive within the time limit', field: 'request' }]
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'Request Header Fields Too Large', { error: 'request headers too large', field: 'headers' }]
            : [400, 'Bad Request', { error: 'malformed HTTP request', field: 'request' }];
      const text = JSON.stringify(body);
      if (socket.writable) {
        const headers = Object.entries({ ...BARE_HEADERS, 'content-length': String(Buffer.byteLength(text)), connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`);
        socket.write(`HTTP/1.1 ${status} ${reason}\r\n${headers.join('')}\r\n${text}`);
      }
      socket.destroy();
    },
    frameworkErrors: (err, _req, res) => {
      const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      void (res as FastifyReply)
        .headers(BARE_HEADERS)
        .code(tooLong ? 414 : 400)
        .send(tooLong ? { error: 'URL too long', field: 'url' } : { error: 'malformed URL', field: 'url' });
    },
  });

  if (onRoute) {
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) onRoute({ method, url: route.url });
    });
  }

  const keys = new KeyRing(targets, pools, keyRefreshMs, (err, target) => app.log.warn({ err, target }, 'key refresh failed'));
  await keys.refresh();
  keys.start();
  app.addHook('onClose', () => keys.stop());

  await app.register(helmet, {
    // the notice page has inline styles only; JSON answers need nothing
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], styleSrc: ["'unsafe-inline'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] },
    },
    hsts: tls ? { maxAge: 31_536_000 } : false,
  });
  await app.register(rateLimit, { global: false });
  // per target and address: one firm's login storm from an address left the other firms' logins from it 429 (tester,
  // three targets behind one gate). cache: (target, address) pairs remembered per window (the store's LRU; default 5,000)
  const loginsPerAddress = app.createRateLimit({
    max: limits.loginRatePerAddress,
    timeWindow: 60_000,
    cache: 10_000,
    keyGenerator: (req) => `${req.gateKey?.target ?? ''} ${req.ip}`,
  } as CreateRateLimitOptions);
  const loginsPerKey = app.createRateLimit({ max: limits.loginRatePerKey, timeWindow: 60_000, keyGenerator: (req) => req.gateKey?.keyId ?? '' });

  app.decorateRequest('gateKey', null);
  app.decorateRequest('login', null);
  app.addHook('onRequest', async (_req, reply) => {
    // tokens travel in /v1 answers: nothing of the gate is to be stored by a cache
    void reply.header('cache-control', 'no-store');
  });
  // an answer given before the body it announced has arrived (a refused key, a refused type): the connection is closed
  // with it, not kept reading a body nobody wants, which the request timeout then answered a second time (408) on the
  // same connection (gate drill)
  app.addHook('onSend', async (req, reply) => {
    const announced = req.raw.headers['content-length'] !== undefined || req.raw.headers['transfer-encoding'] !== undefined;
    if (announced && !req.raw.complete) void reply.header('connection', 'close');
  });

  // JSON only: a body sent as text/plain (fastify's other default parser) is 415, not a string refused as no object
  app.removeContentTypeParser('text/plain');
  // POST without a body (heartbeat, dossiers) is fine even when the client says it is JSON.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  // only to tell a refused __proto__ / constructor.prototype key from malformed JSON (fastify answers both alike)
  const lenientParser = app.getDefaultJsonParser('ignore', 'ignore');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body.toString();
    if (text === '') done(null, undefined);
    else {
      void jsonParser(req, text, (err, value) => {
        if (!err) done(null, value);
        else void lenientParser(req, text, (lenientErr) => done(lenientErr ? err : new GateError(400, PROTOTYPE_KEY_REFUSAL, 'body')));
      });
    }
  });

  app.addHook('onClose', () => temporal.close());
  // R-SE-4: one warn line per refused authentication or limit: the route, the address, the status, the reason (our
  // text, never the key, token or body). At most REFUSAL_LOGS.perAddress lines a minute per address and
  // REFUSAL_LOGS.all in all, whatever the flood: the metrics count every refusal.
  const refusalLogsPerAddress = app.createRateLimit({ max: REFUSAL_LOGS.perAddress, timeWindow: 60_000, cache: 10_000 } as CreateRateLimitOptions);
  const refusalLogsAll = app.createRateLimit({ max: REFUSAL_LOGS.all, timeWindow: 60_000, keyGenerator: () => 'all' });
  const logRefusal = async (req: FastifyRequest, err: GateError): Promise<void> => {
    let paused: number | undefined;
    for (const limit of [refusalLogsPerAddress, refusalLogsAll]) {
      const r = await limit(req);
      if (r.isAllowed) continue;
      if (r.isExceeded) return;
      // the last line before a pause says how long the pause lasts
      if (r.remaining === 0) paused ??= r.ttlInSeconds;
    }
    req.log.warn(
      {
        // an unknown route: what was asked (drill G: the line said `GET ` only), its path without the query, ids as :id
        route: req.routeOptions.url ? `${req.method} ${req.routeOptions.url}` : `${req.method} (no such route) ${probedPath(req.url)}`,
        address: req.ip,
        status: err.statusCode,
        reason: err.message,
        ...(err.field ? { field: err.field } : {}),
        ...(paused !== undefined ? { loggingPausedForSeconds: paused } : {}),
      },
      'request refused',
    );
  };
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof GateError && LOGGED_REFUSALS.has(err.statusCode)) {
      logRefusal(req, err).catch((e: unknown) => req.log.error({ err: e }, 'refusal not logged'));
    }
    return sendError(err, req, reply);
  });
  // an unknown /v1 route (or method) answers a caller without a valid key as every /v1 route does, 401: which paths
  // exist under /v1 is nothing to tell it (R-SE-4); with a key, 404
  app.setNotFoundHandler(async (req, reply) => {
    if (/^\/v1(?:[/?#]|$)/.test(req.url)) await authenticate(req);
    return reply.code(404).send({ error: 'not found', field: 'url' });
  });

  const KEY_REFUSALS: Record<Exclude<KeyCheck, { ok: true }>['outcome'], string> = {
    missing: 'an API key of this target is required in the X-Nightshift-Key header',
    malformed: 'malformed API key',
    unknown: 'unknown API key',
    revoked: 'this API key was revoked',
    unverifiable: 'the API key cannot be checked now: a target database does not answer; try again',
  };
  const countKey = (target: string, keyId: string, outcome: KeyOutcome) => metrics.keyCheck(target, keyId, outcome);

  /** R-SE-4: every /v1 route; before the body is read, so a refused caller costs no parsing. */
  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const check = await keys.check(req.headers[KEY_HEADER]);
    const pathTarget = (req.params as { target?: unknown }).target;
    const named = typeof pathTarget === 'string' && targets.includes(pathTarget) ? pathTarget : undefined;
    if (!check.ok) {
      countKey(check.target ?? named ?? 'unknown', check.keyId ?? 'none', check.outcome);
      throw new GateError(check.outcome === 'unverifiable' ? 503 : 401, KEY_REFUSALS[check.outcome], KEY_HEADER);
    }
    if (pathTarget !== undefined && pathTarget !== check.target) {
      countKey(check.target, check.keyId, 'wrong_target');
      throw new GateError(403, 'this API key is not valid for this target', 'target');
    }
    countKey(check.target, check.keyId, 'accepted');
    req.gateKey = { target: check.target, keyId: check.keyId };
  };

  /**
   * R-MW-6 over R-SE-5: while a window refuses logins, a login over a limit gets the maintenance refusal, not "too many
   * logins" (the application's server is one address: at the window's start most users saw 429, scale drill). The
   * window is read at most once a second per target, so a caller over the limit still costs no query each.
   */
  const statusReads = cachedFor(1000, (target: string) => store.readStatus(pools.get(target)).catch(() => undefined));
  const windowRefusal = async (target: string, loc: Locale): Promise<Record<string, unknown> | undefined> => {
    const status = await statusReads(target);
    if (!status) return undefined;
    const notice = noticeAt(status.window, status.now, loc, texts);
    if (!notice.loginsRefused) return undefined;
    const w = status.window;
    const message = notice.message ?? (w ? refusalText(w.type, w.endsAt, loc, config.timeZone, status.now) : undefined);
    return { error: 'logins are refused', message, ...(w ? { end: w.endsAt.toISOString() } : {}) };
  };

  /** R-SE-5: logins per target and client address (X-Forwarded-For only from a trusted proxy), then per key. */
  const limitLogins = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const key = req.gateKey!;
    // refused before it counts: a malformed login (a buggy client would burn its own budget), and any login while a
    // window refuses them (the application's server, one address, keeps trying during the window: counted, its users
    // got "too many logins" for up to a minute once access came back; drill G). The login statement still decides:
    // the status read here may be a second old.
    req.login = parsePart(loginBody, req.body, 'body');
    // read once: the status is cached for a second, so asking again in the over-limit branches learnt nothing new
    if (await windowRefusal(key.target, locale(req))) return undefined;
    const byAddress = await loginsPerAddress(req);
    if (!byAddress.isAllowed && byAddress.isExceeded) {
      metrics.limitRefusal(key.target, key.keyId, 'login_rate_address');
      void reply.header('retry-after', String(byAddress.ttlInSeconds));
      throw new GateError(429, `too many logins on this target from this client address: at most ${byAddress.max} a minute, retry in ${byAddress.ttlInSeconds} s`, 'address');
    }
    const byKey = await loginsPerKey(req);
    if (!byKey.isAllowed && byKey.isExceeded) {
      metrics.limitRefusal(key.target, key.keyId, 'login_rate_key');
      void reply.header('retry-after', String(byKey.ttlInSeconds));
      throw new GateError(429, `too many logins with this API key: at most ${byKey.max} a minute, retry in ${byKey.ttlInSeconds} s`, KEY_HEADER);
    }
  };

  const keyOf = (req: FastifyRequest): { target: string; keyId: string } => req.gateKey!;

  const locale = (req: FastifyRequest): Locale => pickLocale(parsePart(localeHeaders, req.headers, 'headers')['accept-language']);

  // R-MW-4: one text per window and locale, formatted once (a new Intl.DateTimeFormat costs more than a heartbeat)
  const announcements = new Map<string, string>();
  const announcementOf = (w: ActiveWindow, loc: Locale): string => {
    const key = `${loc} ${w.type} ${w.startsAt.getTime()} ${w.endsAt.getTime()} ${w.message ?? ''}`;
    let text = announcements.get(key);
    if (text === undefined) {
      if (announcements.size >= 100) announcements.clear();
      text = withOperatorMessage(announcementText(w.type, w.startsAt, w.endsAt, config.appName, loc, config.timeZone), w);
      announcements.set(key, text);
    }
    return text;
  };

  // --- public routes -------------------------------------------------------------------------

  /** Liveness: the process answers. It reads nothing and says nothing. */
  app.get('/healthz', async () => ({ ok: true }));

  /**
   * Readiness (tester, three targets: one database down made the whole gate 503, so a balancer dropped it for every
   * firm, and every gate alike): ready while the gate can serve, i.e. at least one target database answers; `degraded`
   * when one does not, with no name (R-SE-4: a public answer names no target); the log says which, once per change.
   * Re-checked at most once a second. With a key, the key's target's own readiness (its database, asked now).
   */
  const databaseUp = new Map<string, boolean>();
  const readyTargets = cachedFor(1000, async (_every: 'targets'): Promise<Map<string, boolean>> => {
    const up = await Promise.all(targets.map((t) => store.ping(pools.get(t)).then(() => true, () => false)));
    targets.forEach((t, i) => {
      const was = databaseUp.get(t);
      if (was === up[i]) return;
      databaseUp.set(t, up[i]!);
      if (!up[i]) app.log.warn({ target: t }, 'target database does not answer: its logins and heartbeats get 503, the other targets are served');
      else if (was === false) app.log.info({ target: t }, 'target database answers again');
    });
    return new Map(targets.map((t, i) => [t, up[i]!]));
  });
  app.get('/readyz', async (req, reply) => {
    const check = req.headers[KEY_HEADER] === undefined ? undefined : await keys.check(req.headers[KEY_HEADER]);
    if (check?.ok) {
      // with a key, its own target is asked now (the bench's trivial round-trip route)
      countKey(check.target, check.keyId, 'accepted');
      const own = await store.ping(pools.get(check.target)).then(() => true, () => false);
      return reply.code(own ? 200 : 503).send({ ready: own, target: check.target, database: own ? 'ok' : 'unreachable' });
    }
    const up = [...(await readyTargets('targets')).values()];
    const ready = up.some(Boolean);
    return reply.code(ready ? 200 : 503).send({ ready, ...(ready && !up.every(Boolean) ? { degraded: true } : {}) });
  });

  /** The contract (gate/openapi.json, generated from gate/contract.ts): static, the same for every deployment, so public. */
  const openapi = openApiText();
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send(openapi));

  /**
   * The notices a user's browser shows (seed 004), never database state or counts (R-SE-4). A gate serving several
   * targets showed one firm's notice to every firm's users, no target named (tester): `/?target=NAME` shows that
   * target's notices only, each headed with its name; the bare page of such a gate shows none, only where they are.
   * A name not served is a page with no notice, as a target with none: the page does not tell which names exist.
   * A target whose status cannot be read: 503 and "state unknown", never "no maintenance".
   */
  app.get('/', async (req, reply) => {
    const loc = locale(req);
    const asked = (req.query as { target?: unknown }).target;
    if (asked === undefined && targets.length > 1) {
      return reply.type('text/html; charset=utf-8').send(renderPage(config.appName, loc, { perTarget: true }));
    }
    const shown = asked === undefined ? targets : typeof asked === 'string' && isKnownTargetName(asked, targets) ? [asked] : [];
    const notices = await Promise.all(
      shown.map(async (target): Promise<TargetNotice> => {
        try {
          const status = await store.readStatus(pools.get(target));
          const notice = noticeAt(status.window, status.now, loc, texts);
          return { target, state: notice.state, message: notice.message };
        } catch (err) {
          req.log.warn({ err, target }, 'status read failed');
          return { target, state: 'unavailable' };
        }
      }),
    );
    // a status that cannot be read is not "no maintenance" (tester: the page said so during a window, database down):
    // 503, as the /v1 routes answer meanwhile, with a page saying the state is unknown (no error text: the log has it)
    const content: PageContent = { notices, named: asked !== undefined };
    return reply
      .code(pageUnknown(content) ? 503 : 200)
      .type('text/html; charset=utf-8')
      .send(renderPage(config.appName, loc, content));
  });

  // --- /v1: the business application, with a key of the target (R-SE-4) ------------------------

  await app.register(
    async (v1) => {
      v1.addHook('onRequest', authenticate);
      // a compressed body was parsed as it came and called "malformed JSON" (drill G): the encoding is what is refused
      v1.addHook('preParsing', async (req) => {
        const encoding = req.headers['content-encoding'];
        if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
          throw new GateError(415, 'unsupported Content-Encoding: send the JSON body uncompressed', 'content-encoding');
        }
      });

      v1.get('/targets/:target/status', async (req) => {
        const { target } = parsePart(targetParams, req.params, 'params');
        // a GET's body is not read (HTTP gives it no meaning): one sent is refused, as an unknown field is elsewhere
        if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined) throw new GateError(400, 'a GET takes no body', 'body');
        const pool = pools.get(target);
        const loc = locale(req);
        const status = await store.readStatus(pool);
        const notice = noticeAt(status.window, status.now, loc, texts);
        const w = status.window;
        return {
          target,
          state: notice.state,
          ...(w && notice.state !== 'open'
            ? { type: w.type, start: w.startsAt.toISOString(), end: w.endsAt.toISOString(), message: notice.message }
            : {}),
          openSessions: status.openSessions,
          loginsRefused: notice.loginsRefused,
        };
      });

      v1.post('/targets/:target/sessions', { preHandler: limitLogins }, async (req, reply) => {
        const key = keyOf(req);
        const pool = pools.get(key.target);
        const loc = locale(req);
        const body = req.login!;
        const { token, tokenHash } = store.newToken();
        const result = await openSession(pool, {
          user: body.user,
          client: body.client,
          tokenHash,
          timeoutSeconds: timeout,
          keyId: key.keyId,
          maxSessionsPerKey: limits.maxSessionsPerKey,
        });
        const w = result.window;
        if (!result.session) {
          // refused in SQL on the same snapshot; the texts come from the domain rules
          const notice = noticeAt(w, result.now, loc, texts);
          if (notice.loginsRefused || result.keySessions < limits.maxSessionsPerKey) {
            const message = notice.loginsRefused && notice.message ? notice.message : w ? refusalText(w.type, w.endsAt, loc, config.timeZone, result.now) : undefined;
            return reply.code(423).send({ error: 'logins are refused', message, ...(w ? { end: w.endsAt.toISOString() } : {}) });
          }
          metrics.limitRefusal(key.target, key.keyId, 'sessions_per_key');
          throw new GateError(
            429,
            `this API key already holds ${result.keySessions} open sessions (at most ${limits.maxSessionsPerKey}): close sessions first`,
            KEY_HEADER,
          );
        }
        const announced = w && gateStateAt(w, result.now) === 'announced';
        return reply.code(201).send({
          sessionId: result.session.id,
          token,
          expiresAt: result.session.expiresAt.toISOString(),
          heartbeatSeconds: heartbeatSeconds(timeout),
          ...(announced
            ? { announcement: announcementOf(w, loc) }
            : {}),
        });
      });

      v1.post('/sessions/:id/heartbeat', async (req) => {
        const { id } = parsePart(sessionParams, req.params, 'params');
        const token = bearerToken(req.headers);
        parsePart(noBody, req.body, 'body');
        const loc = locale(req);
        // R-MW-7: once the window is closed at the database clock, the batch itself gives the order (the workflow's or another gate's stands)
        const { value: hb } = await sessions.run(keyOf(req).target, id, token, (pool, hash) => heartbeats.beat(pool, id, hash));
        const w = hb.window;
        // the operator's message follows the close order too, as it follows the announcement and the refusal (drill M, session 37)
        if (hb.closeRequestedAt && hb.closeBy) {
          const order = closeOrderText(loc, config.appName);
          return { action: 'close', message: w ? withOperatorMessage(order, w) : order, closeBy: hb.closeBy.toISOString() };
        }
        if (w && gateStateAt(w, hb.now) === 'announced') return { action: 'continue', message: announcementOf(w, loc) };
        return { action: 'continue' };
      });

      v1.delete('/sessions/:id', async (req) => {
        const { id } = parsePart(sessionParams, req.params, 'params');
        const token = bearerToken(req.headers);
        parsePart(noBody, req.body, 'body');
        const { target, value } = await sessions.run(keyOf(req).target, id, token, (pool, hash) => store.logout(pool, id, hash));
        // a logout leaves every dossier the session still held: each is an exit (R-BK-9), once the close is committed.
        // No answer means on-exit is off, for every dossier alike: the others are not read again.
        const backups: Record<string, unknown>[] = [];
        for (const code of value.held) {
          const backup = await backupOnExit(req, target, code);
          if (!backup) break;
          backups.push({ dossier: code, ...backup });
        }
        return { closed: true, reason: value.reason, ...(backups.length ? { backups } : {}) };
      });

      v1.post('/sessions/:id/dossiers/:code', async (req) => {
        const { id, code } = parsePart(dossierParams, req.params, 'params');
        const token = bearerToken(req.headers);
        parsePart(noBody, req.body, 'body');
        const key = keyOf(req);
        const { value } = await sessions.run(key.target, id, token, async (pool, hash) => {
          const outcome = await openDossier(pool, id, hash, code, limits.maxDossiersPerSession);
          return outcome === 'no-session' ? undefined : outcome;
        });
        if (value === 'no-dossier') throw new GateError(404, 'unknown dossier', 'code');
        if (value === 'cap') {
          metrics.limitRefusal(key.target, key.keyId, 'dossiers_per_session');
          throw new GateError(409, `this session already holds ${limits.maxDossiersPerSession} dossiers open (the limit): close one first`, 'code');
        }
        return { dossier: code, open: true };
      });

      v1.delete('/sessions/:id/dossiers/:code', async (req) => {
        const { id, code } = parsePart(dossierParams, req.params, 'params');
        const token = bearerToken(req.headers);
        parsePart(noBody, req.body, 'body');
        const { target, value } = await sessions.run(keyOf(req).target, id, token, async (pool, hash) => {
          const outcome = await store.closeDossier(pool, id, hash, code);
          return outcome === 'no-session' ? undefined : outcome;
        });
        if (value === 'no-dossier') throw new GateError(404, 'unknown dossier', 'code');
        const backup = value === 'done' ? await backupOnExit(req, target, code) : undefined;
        return { dossier: code, open: false, ...(backup ? { backup } : {}) };
      });

      // R-BK-9 / R-BK-5: the business application asks for the backup of one dossier before a provider exchange,
      // before closing it, or when leaving it; the effective setting decides.
      v1.post('/sessions/:id/dossiers/:code/backup', async (req, reply) => {
        const { id, code } = parsePart(dossierParams, req.params, 'params');
        const token = bearerToken(req.headers);
        const { event } = parsePart(backupTriggerBody, req.body, 'body');
        const { value: check } = await sessions.run(keyOf(req).target, id, token, async (pool, tokenHash, target) => {
          const c = await checkBackupTrigger(pool, config, target, code, event, { id, tokenHash });
          return c.state.session ? c : undefined;
        });
        const { state, plan } = check;
        if (!state.dossier) throw new GateError(404, 'unknown dossier', 'code');
        if (!plan.triggered) {
          return reply.code(200).send(disabledAnswer(plan));
        }
        if (state.inUse > 0) {
          throw new GateError(409, 'dossier in use: close it in every session first', 'code', {
            triggered: false,
            message: DOSSIER_IN_USE_MESSAGE,
            sessions: state.inUse,
            heldBySession: state.heldBySession,
          });
        }
        let started: StartedTrigger;
        try {
          started = await startBackup(plan);
        } catch (err) {
          if (!(err instanceof TemporalUnavailable)) throw err;
          req.log.warn({ target: plan.target, code, reason: err.message }, 'backup not started: Temporal unavailable');
          throw new GateError(503, TEMPORAL_DOWN_MESSAGE, undefined, { triggered: false });
        }
        return reply.code(202).send(triggeredAnswer(plan, started));
      });
    },
    { prefix: '/v1' },
  );

  const startBackup = (plan: TriggeredPlan): Promise<StartedTrigger> =>
    temporal.run((client) => startTriggeredBackup(client, config.temporal.taskQueue, plan));

  // R-BK-9 "on dossier exit": started once the close has committed, so that this session no longer holds the
  // dossier (R-BK-3); only when no other session still holds it. The close stands whatever happens here.
  const backupOnExit = async (req: FastifyRequest, target: string, code: string): Promise<Record<string, unknown> | undefined> => {
    try {
      const { state, plan } = await checkBackupTrigger(pools.get(target), config, target, code, 'exit');
      if (!plan.triggered) return undefined;
      if (state.inUse > 0) {
        return { triggered: false, reason: 'in-use', message: `dossier ${code} is still open in ${state.inUse} other session(s): the last one to close it triggers the backup (R-BK-3)` };
      }
      return triggeredAnswer(plan, await startBackup(plan));
    } catch (err) {
      if (err instanceof TemporalUnavailable) {
        req.log.warn({ target, code, reason: err.message }, 'backup on exit not started: Temporal unavailable');
        return { triggered: false, reason: 'temporal-unavailable', message: TEMPORAL_DOWN_MESSAGE };
      }
      req.log.error({ err, target, code }, 'backup on exit not started');
      return { triggered: false, reason: 'failed', message: 'the backup on exit could not be started' };
    }
  };

  return app;
}

/** Every route's answer while the target database does not answer (README, *The session gate*). */
export const DATABASE_DOWN_ANSWER = { error: 'target database unavailable' } as const;

const TEMPORAL_DOWN_MESSAGE = 'Temporal is unavailable: no backup was started; try again later';

const PROTOTYPE_KEY_REFUSAL = 'a JSON body with a __proto__ or constructor.prototype key is refused';

/** Refused authentications and limits: each logged (bounded per address and in all, per minute). */
const LOGGED_REFUSALS = new Set([401, 403, 429]);
export const REFUSAL_LOGS = { perAddress: 20, all: 600 } as const;

/**
 * The path of a request that matched no route, as a refusal's log line gives it: no query, a uuid or a long segment
 * (a session id, a token pasted by mistake) as `:id`, at most 100 characters.
 */
function probedPath(url: string): string {
  const path = url.split('?')[0]!;
  return path
    .split('/')
    .map((seg) => (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(seg) || seg.length > 40 ? ':id' : seg))
    .join('/')
    .slice(0, 100);
}

/**
 * Session routes carry no target: the key's target is the one looked in (a key sees its target's
 * sessions only). Another target's session is an unknown session to it (R-SE-4: the caller learns nothing).
 */
class SessionLocator {
  constructor(private readonly pools: TargetPools) {}

  async run<T>(
    target: string,
    id: string,
    token: string,
    op: (pool: pg.Pool, tokenHash: string, target: string) => Promise<T | undefined>,
  ): Promise<{ target: string; value: T }> {
    const tokenHash = store.hashToken(token);
    const value = await op(this.pools.get(target), tokenHash, target);
    if (value !== undefined) return { target, value };
    throw await this.missError(target, id, tokenHash);
  }

  /** Why the operation matched nothing in the key's target: unknown id (404, also another target's), wrong token (401), closed / expired (404). */
  private async missError(target: string, id: string, tokenHash: string): Promise<GateError> {
    const found = await store.findSession(this.pools.get(target), id);
    if (found) {
      if (!store.tokenMatches(tokenHash, found.tokenHash)) return new GateError(401, 'invalid session token', 'authorization');
      return new GateError(404, 'session closed or expired', 'id');
    }
    return new GateError(404, 'unknown session', 'id');
  }
}

/** fastify's own refusals, in the gate's words: never their message, which can quote the input. */
const FRAMEWORK_REFUSALS: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, `request body too large (at most ${BODY_LIMIT} bytes)`, 'body'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported content type: send application/json', 'content-type'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'the body does not match its Content-Length', 'body'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'empty JSON body', 'body'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed JSON body', 'body'],
  FST_ERR_CTP_INVALID_TYPE: [400, 'malformed Content-Type header', 'content-type'],
};

function sendError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof GateError) {
    return reply.code(err.statusCode).send({ error: err.message, ...(err.field ? { field: err.field } : {}), ...err.extra });
  }
  const known = FRAMEWORK_REFUSALS[err.code];
  if (known) return reply.code(known[0]).send({ error: known[1], field: known[2] });
  // the JSON parser's SyntaxError (its message quotes the body), and any other client error
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return reply.code(400).send({ error: 'malformed JSON body', field: 'body' });
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send({ error: 'invalid request', field: 'request' });
  }
  // the target is the key's (every /v1 route but an unknown one has it); the line names it, never the key or the URL
  const target = req.gateKey?.target;
  const outage = databaseOutage(err);
  if (outage) {
    req.log.warn({ target, outage, err }, 'target database unavailable');
    return reply.code(503).send(DATABASE_DOWN_ANSWER);
  }
  req.log.error({ target, err }, 'gate request failed');
  return reply.code(500).send({ error: 'internal error' });
}

export interface RunningGate {
  /** http(s)://host:port */
  address: string;
  /** http://host:port/metrics (Prometheus) */
  metricsAddress: string;
  close(): Promise<void>;
}

export type StartGateOptions = Pick<GateOptions, 'temporal' | 'keyRefreshMs' | 'onRoute' | 'logger'>;

/**
 * Listens on config.gateHost:gatePort (port 0 picks a free one), serves the metrics on
 * config.gate.metricsHost:metricsPort, and sweeps expired sessions, purging closed ones after the
 * retention (R-SE-5). The pools belong to the caller (`nightshift gate`, `nightshift dev`), which ends
 * them after close(). An address it cannot listen on is a UsageError naming its variable.
 */
export async function startGate(config: Config, pools: TargetPools, options: StartGateOptions = {}): Promise<RunningGate> {
  const metrics = new GateMetrics();
  const app = await buildGate({ config, pools, logger: { level: config.logLevel }, metrics, ...options });
  const sweep = async () => {
    for (const target of config.targets) {
      try {
        const pool = pools.get(target.name);
        await store.sweepExpiredSessions(pool);
        await purgeSessions(pool, config.gate.sessionRetentionSeconds);
      } catch (err) {
        app.log.warn({ err, target: target.name }, 'expired-session sweep failed');
      }
    }
  };
  // Live-ness is always checked against expires_at; the sweep only records the close ('expired') and purges.
  const timer = setInterval(() => void sweep(), Math.min(30_000, (config.sessionTimeoutSeconds * 1000) / 2));
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
  try {
    await app.listen({ host: config.gateHost, port: config.gatePort });
  } catch (err) {
    await app.close();
    throw listenError(err, 'NIGHTSHIFT_GATE_HOST', config.gateHost, 'NIGHTSHIFT_GATE_PORT', config.gatePort);
  }
  let metricsListener: Awaited<ReturnType<typeof serveMetrics>>;
  try {
    metricsListener = await serveMetrics(metrics, config.gate.metricsHost, config.gate.metricsPort);
  } catch (err) {
    await app.close();
    throw listenError(err, 'NIGHTSHIFT_GATE_METRICS_HOST', config.gate.metricsHost, 'NIGHTSHIFT_GATE_METRICS_PORT', config.gate.metricsPort);
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.gatePort;
  const host = config.gateHost.includes(':') ? `[${config.gateHost}]` : config.gateHost;
  return {
    address: `${config.gate.tls ? 'https' : 'http'}://${host}:${port}`,
    metricsAddress: metricsListener.address,
    close: async () => {
      await metricsListener.close();
      await app.close();
    },
  };
}

/** One line naming the variable to change (issue 9: `nightshift gate` on a taken port exits 2). */
function listenError(err: unknown, hostVariable: string, host: string, portVariable: string, port: number): unknown {
  const code = (err as { code?: string }).code;
  const shown = JSON.stringify(host.slice(0, 100));
  if (code === 'EADDRINUSE') return new UsageError(`${portVariable}: port ${port} is already in use on ${shown}: stop what listens there or choose another port`);
  if (code === 'EACCES') return new UsageError(`${portVariable}: not allowed to listen on port ${port} (ports below 1024 need privileges): choose another port`);
  if (code && ['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAFNOSUPPORT', 'EINVAL'].includes(code)) {
    return new UsageError(`${hostVariable}: cannot listen on ${shown} (${code}): give an address of this machine, such as 127.0.0.1 or 0.0.0.0`);
  }
  return err;
}
