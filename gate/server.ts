import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type pg from 'pg';
import type { Config } from '../config/config';
import {
  announcementText,
  CLOSE_ACK_SECONDS,
  closeOrderText,
  gateStateAt,
  pickLocale,
  refusalText,
  type Locale,
} from '../domain/maintenance';
import { DOSSIER_IN_USE_MESSAGE } from '../domain/failures';
import { connectTemporalClient, type TargetPools } from '../workers/resources';
import { checkBackupTrigger, disabledAnswer, startTriggeredBackup, triggeredAnswer, type StartedTrigger, type TriggeredPlan } from './backup-trigger';
import { noticeAt, withOperatorMessage, type TextSettings } from './notices';
import { renderPage, type TargetNotice } from './page';
import {
  backupTriggerBody,
  bearerToken,
  dossierParams,
  GateError,
  isKnownTargetName,
  localeHeaders,
  loginBody,
  parsePart,
  sessionParams,
  targetParams,
} from './requests';
import * as store from './store';
import { lazyTemporal, TemporalUnavailable, type TemporalAccess } from './temporal';

/**
 * The HTTP session gate (issue 3): the business application asks it before login and while logged in
 * (R-SE-1..3, R-MW-4..7). Every answer is computed from the target database and its clock, so several
 * gate processes can serve one target and refusal starts at the start instant without any worker.
 */

export interface GateOptions {
  config: Config;
  pools: TargetPools;
  /** fastify's logger; off by default (tests), startGate passes the configured level */
  logger?: boolean | { level: string };
  /**
   * How long heartbeats may reuse the window row (ms); 0 joins it into every heartbeat's UPDATE.
   * The window lookup is about a third of a heartbeat's database work (bench/gate-heartbeats.ts).
   */
  windowCacheMs?: number;
  /**
   * Starts the R-BK-9 backups; default: a client of config.temporal connected on first use, so that the
   * gate serves logins while Temporal is down. The gate closes it.
   */
  temporal?: TemporalAccess;
}

/** How long a backup route waits for Temporal's frontend before answering 503. */
export const TEMPORAL_CONNECT_TIMEOUT = '2s';

/** At most this stale: a new or edited window reaches heartbeats within 0.2 s. */
export const WINDOW_CACHE_MS = 200;

/** Small bodies only: the largest legitimate one is {user, client} (~300 bytes). */
export const BODY_LIMIT = 16 * 1024;

export async function buildGate({ config, pools, logger = false, windowCacheMs = WINDOW_CACHE_MS, temporal: temporalAccess }: GateOptions): Promise<FastifyInstance> {
  const targets = config.targets.map((t) => t.name);
  const texts: TextSettings = { appName: config.appName, timeZone: config.timeZone };
  const timeout = config.sessionTimeoutSeconds;
  const sessions = new SessionLocator(targets, pools);
  const windows = windowCacheMs > 0 ? new store.WindowCache(windowCacheMs) : undefined;
  const temporal = temporalAccess ?? lazyTemporal(() => connectTemporalClient(config, TEMPORAL_CONNECT_TIMEOUT));

  const app = Fastify({
    logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 100 },
    return503OnClosing: true,
  });

  // POST without a body (heartbeat, dossiers) is fine even when the client says it is JSON.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body.toString();
    if (text === '') done(null, undefined);
    else void jsonParser(req, text, done);
  });

  app.addHook('onClose', () => temporal.close());
  app.setErrorHandler((err: FastifyError, req, reply) => sendError(err, req, reply));
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ error: 'not found' });
  });

  const locale = (req: FastifyRequest): Locale => pickLocale(parsePart(localeHeaders, req.headers, 'headers')['accept-language']);
  const poolOf = (req: FastifyRequest): { target: string; pool: pg.Pool } => {
    const { target } = parsePart(targetParams, req.params, 'params');
    if (!isKnownTargetName(target, targets)) throw new GateError(404, 'unknown target', 'target');
    return { target, pool: pools.get(target) };
  };

  app.get('/healthz', async (_req, reply) => {
    const results = await Promise.all(
      targets.map(async (t) => {
        try {
          await store.ping(pools.get(t));
          return [t, 'ok'] as const;
        } catch {
          return [t, 'unreachable'] as const;
        }
      }),
    );
    const ok = results.every(([, s]) => s === 'ok');
    return reply.code(ok ? 200 : 503).send({ ok, targets: Object.fromEntries(results) });
  });

  app.get('/', async (req, reply) => {
    const loc = locale(req);
    const notices = await Promise.all(
      targets.map(async (target): Promise<TargetNotice> => {
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
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
      .header('x-content-type-options', 'nosniff')
      .send(renderPage(config.appName, loc, notices));
  });

  app.get('/v1/targets/:target/status', async (req) => {
    const { target, pool } = poolOf(req);
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

  app.post('/v1/targets/:target/sessions', async (req, reply) => {
    const { pool } = poolOf(req);
    const loc = locale(req);
    const body = parsePart(loginBody, req.body, 'body');
    const result = await store.login(pool, body.user, body.client, timeout);
    const w = result.window;
    if (!result.session) {
      // refused in SQL on the same snapshot; the texts come from the domain rules
      const notice = noticeAt(w, result.now, loc, texts);
      const message = notice.loginsRefused && notice.message ? notice.message : w ? refusalText(w.type, w.endsAt, loc, config.timeZone) : undefined;
      return reply.code(423).send({ error: 'logins are refused', message, ...(w ? { end: w.endsAt.toISOString() } : {}) });
    }
    const announced = w && gateStateAt(w, result.now) === 'announced';
    return reply.code(201).send({
      sessionId: result.session.id,
      token: result.session.token,
      expiresAt: result.session.expiresAt.toISOString(),
      heartbeatSeconds: heartbeatSeconds(timeout),
      ...(announced
        ? { announcement: withOperatorMessage(announcementText(w.type, w.startsAt, w.endsAt, config.appName, loc, config.timeZone), w) }
        : {}),
    });
  });

  app.post('/v1/sessions/:id/heartbeat', async (req) => {
    const { id } = parsePart(sessionParams, req.params, 'params');
    const token = bearerToken(req.headers);
    const loc = locale(req);
    const { target, value: hb } = await sessions.run(id, token, (pool, hash) => store.heartbeat(pool, id, hash, timeout, windows));
    let closeBy = hb.closeRequestedAt ? hb.closeBy : null;
    // R-MW-7: the gate gives the order itself when it sees the target closed first (idempotent with the workflow's)
    if (!hb.closeRequestedAt && gateStateAt(hb.window, hb.now) === 'closed') {
      closeBy = (await store.orderClose(pools.get(target), id, CLOSE_ACK_SECONDS)) ?? hb.now;
    }
    if (closeBy) return { action: 'close', message: closeOrderText(loc, config.appName), closeBy: closeBy.toISOString() };
    const w = hb.window;
    if (w && gateStateAt(w, hb.now) === 'announced') {
      return { action: 'continue', message: withOperatorMessage(announcementText(w.type, w.startsAt, w.endsAt, config.appName, loc, config.timeZone), w) };
    }
    return { action: 'continue' };
  });

  app.delete('/v1/sessions/:id', async (req) => {
    const { id } = parsePart(sessionParams, req.params, 'params');
    const token = bearerToken(req.headers);
    const { target, value } = await sessions.run(id, token, (pool, hash) => store.logout(pool, id, hash));
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

  app.post('/v1/sessions/:id/dossiers/:code', async (req) => {
    const { id, code } = parsePart(dossierParams, req.params, 'params');
    const token = bearerToken(req.headers);
    const { value } = await sessions.run(id, token, async (pool, hash) => {
      const outcome = await store.openDossier(pool, id, hash, code);
      return outcome === 'no-session' ? undefined : outcome;
    });
    if (value === 'no-dossier') throw new GateError(404, 'unknown dossier', 'code');
    return { dossier: code, open: true };
  });

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

  app.delete('/v1/sessions/:id/dossiers/:code', async (req) => {
    const { id, code } = parsePart(dossierParams, req.params, 'params');
    const token = bearerToken(req.headers);
    const { target, value } = await sessions.run(id, token, async (pool, hash) => {
      const outcome = await store.closeDossier(pool, id, hash, code);
      return outcome === 'no-session' ? undefined : outcome;
    });
    if (value === 'no-dossier') throw new GateError(404, 'unknown dossier', 'code');
    const backup = value === 'done' ? await backupOnExit(req, target, code) : undefined;
    return { dossier: code, open: false, ...(backup ? { backup } : {}) };
  });

  // R-BK-9 / R-BK-5: the business application asks for the backup of one dossier before a provider exchange,
  // before closing it, or when leaving it; the effective setting decides.
  app.post('/v1/sessions/:id/dossiers/:code/backup', async (req, reply) => {
    const { id, code } = parsePart(dossierParams, req.params, 'params');
    const token = bearerToken(req.headers);
    const { event } = parsePart(backupTriggerBody, req.body, 'body');
    const { value: check } = await sessions.run(id, token, async (pool, tokenHash, target) => {
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

  return app;
}

const TEMPORAL_DOWN_MESSAGE = 'Temporal is unavailable: no backup was started; try again later';


/** A third of the timeout: two heartbeats may be lost before a session expires. */
export function heartbeatSeconds(timeoutSeconds: number): number {
  return Math.max(1, Math.floor(timeoutSeconds / 3));
}

/**
 * Session routes carry no target: with several targets, the session is looked up in each database,
 * the last one found first (a hint only; the databases stay the truth).
 */
class SessionLocator {
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly targets: readonly string[],
    private readonly pools: TargetPools,
  ) {}

  private order(id: string): readonly string[] {
    const hint = this.seen.get(id);
    return hint ? [hint, ...this.targets.filter((t) => t !== hint)] : this.targets;
  }

  async run<T>(id: string, token: string, op: (pool: pg.Pool, tokenHash: string, target: string) => Promise<T | undefined>): Promise<{ target: string; value: T }> {
    const tokenHash = store.hashToken(token);
    for (const target of this.order(id)) {
      const value = await op(this.pools.get(target), tokenHash, target);
      if (value !== undefined) {
        if (this.targets.length > 1) this.remember(id, target);
        return { target, value };
      }
    }
    throw await this.missError(id, tokenHash);
  }

  private remember(id: string, target: string): void {
    if (this.seen.size >= 100_000) this.seen.clear();
    this.seen.set(id, target);
  }

  /** Why the operation matched nothing: unknown id (404), wrong token (401), or closed / expired (404). */
  private async missError(id: string, tokenHash: string): Promise<GateError> {
    for (const target of this.order(id)) {
      const found = await store.findSession(this.pools.get(target), id);
      if (!found) continue;
      if (!store.tokenMatches(tokenHash, found.tokenHash)) return new GateError(401, 'invalid session token', 'authorization');
      return new GateError(404, 'session closed or expired', 'id');
    }
    return new GateError(404, 'unknown session', 'id');
  }
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03']);

function sendError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof GateError) {
    return reply.code(err.statusCode).send({ error: err.message, ...(err.field ? { field: err.field } : {}), ...err.extra });
  }
  // fastify's own refusals: body too large (413), not JSON (415), malformed JSON (400)
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send({ error: err.message, field: 'body' });
  }
  const code = (err as { code?: string }).code ?? '';
  if (CONNECTION_ERRORS.has(code) || code.startsWith('08') || /timeout exceeded when trying to connect/i.test(err.message)) {
    req.log.warn({ err }, 'target database unavailable');
    return reply.code(503).send({ error: 'target database unavailable' });
  }
  req.log.error({ err }, 'gate request failed');
  return reply.code(500).send({ error: 'internal error' });
}

export interface RunningGate {
  address: string;
  close(): Promise<void>;
}

/**
 * Listens on config.gateHost:gatePort (port 0 picks a free one) and sweeps expired sessions. The pools
 * belong to the caller (`nightshift gate`, `nightshift dev`), which ends them after close().
 */
export async function startGate(config: Config, pools: TargetPools, options: Pick<GateOptions, 'windowCacheMs' | 'temporal'> = {}): Promise<RunningGate> {
  const app = await buildGate({ config, pools, logger: { level: config.logLevel }, ...options });
  const sweep = async () => {
    for (const target of config.targets) {
      try {
        await store.sweepExpiredSessions(pools.get(target.name));
      } catch (err) {
        app.log.warn({ err, target: target.name }, 'expired-session sweep failed');
      }
    }
  };
  // Live-ness is always checked against expires_at; the sweep only records the close ('expired').
  const timer = setInterval(() => void sweep(), Math.min(30_000, (config.sessionTimeoutSeconds * 1000) / 2));
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
  await app.listen({ host: config.gateHost, port: config.gatePort });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.gatePort;
  const host = config.gateHost.includes(':') ? `[${config.gateHost}]` : config.gateHost;
  return { address: `http://${host}:${port}`, close: () => app.close() };
}
