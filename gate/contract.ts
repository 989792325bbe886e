import { z } from 'zod';
import { BACKUP_EVENTS } from '../workflows/backup-dossier.api';
import { WINDOW_TYPES } from '../domain/maintenance';
import { backupTriggerBody, dossierParams, localeHeaders, loginBody, noBody, pageQuery, sessionParams, targetParams } from './requests';

/**
 * The gate's contract for integrators (issue 9): every route with its security, its request parts and
 * its answers per status, as zod schemas. gate/openapi.ts generates the OpenAPI 3.1 document from this
 * table, gate/client.ts takes its answer types from it, and test/gate/openapi.test.ts checks the running
 * gate against it (every route registered is here, every status here is reachable, every answer parses).
 */

/** The header that carries the business application's key (R-SE-4); sessions keep `Authorization: Bearer`. */
export const API_KEY_HEADER = 'x-nightshift-key';

/** The named schemas: components of the OpenAPI document. */
export const contractSchemas = z.registry<{ id: string }>();

const isoInstant = z.iso.datetime({ offset: false }).describe('an instant in UTC, ISO 8601');

// ---- answers -------------------------------------------------------------------------------------

export const errorAnswer = z
  .object({
    error: z.string().describe('what was wrong, in English; never echoes the input'),
    field: z.string().optional().describe('the request part at fault: a body field, a path parameter, a header (authorization, x-nightshift-key…)'),
  })
  .describe('Every refusal: {error, field?} (some add the fields their status documents).').register(contractSchemas, { id: 'Error' });
export type ErrorAnswer = z.infer<typeof errorAnswer>;

export const gateState = z.enum(['open', 'announced', 'closed']).register(contractSchemas, { id: 'GateState' });

export const statusAnswer = z
  .object({
    target: z.string(),
    state: gateState,
    type: z.enum(WINDOW_TYPES).optional().describe('the window type, while announced or closed'),
    start: isoInstant.optional(),
    end: isoInstant.optional(),
    message: z.string().optional().describe('the notice for users, in the Accept-Language locale (French by default)'),
    openSessions: z.int().nonnegative().describe('live sessions of the target (R-SE-3)'),
    loginsRefused: z.boolean(),
  })
  .register(contractSchemas, { id: 'TargetStatus' });
export type StatusAnswer = z.infer<typeof statusAnswer>;

export const loginAnswer = z
  .object({
    sessionId: z.uuid(),
    token: z.string().describe('the session token: send it as Authorization: Bearer <token> on the session routes; shown once'),
    expiresAt: isoInstant,
    heartbeatSeconds: z.int().positive().describe('send a heartbeat this often (a third of the session timeout)'),
    announcement: z.string().optional().describe('R-MW-4: a window is announced; show it to the user'),
  })
  .register(contractSchemas, { id: 'Session' });
export type LoginAnswer = z.infer<typeof loginAnswer>;

export const loginRefusedAnswer = errorAnswer
  .extend({
    message: z.string().optional().describe('the text to show the user (R-MW-5, R-MW-6)'),
    end: isoInstant.optional().describe('when the window ends'),
  })
  .register(contractSchemas, { id: 'LoginRefused' });
export type LoginRefusedAnswer = z.infer<typeof loginRefusedAnswer>;

export const heartbeatAnswer = z
  .discriminatedUnion('action', [
    z.object({
      action: z.literal('continue'),
      message: z.string().optional().describe('R-MW-4: the announcement of a coming window, to show'),
    }),
    z.object({
      action: z.literal('close'),
      message: z.string().describe('R-MW-7: the close order to show; OK logs out'),
      closeBy: isoInstant.describe('the session is closed by force at this instant unless it logs out first'),
    }),
  ])
  .register(contractSchemas, { id: 'HeartbeatAnswer' });
export type HeartbeatAnswer = z.infer<typeof heartbeatAnswer>;

const eventSetting = z.object({
  key: z.enum(['on-exit', 'before-exchange', 'before-closing']),
  value: z.union([z.boolean(), z.enum(['never', 'always'])]),
  source: z.enum(['local', 'common', 'default']).describe('R-BK-9 precedence: local > common > default'),
});

export const backupStartedAnswer = z
  .object({
    triggered: z.literal(true),
    event: z.enum(BACKUP_EVENTS),
    target: z.string(),
    dossier: z.string(),
    setting: eventSetting,
    folder: z.string().nullable().describe('R-BK-5 sub-folder of the backup folder (EchangePrest, Cloture), null for the folder itself'),
    workflowId: z.string(),
    runId: z.string(),
    alreadyRunning: z.boolean().describe('a backup of this dossier for this event was already running: that one is answered'),
  })
  .register(contractSchemas, { id: 'BackupStarted' });
export type BackupStartedAnswer = z.infer<typeof backupStartedAnswer>;

export const backupDisabledAnswer = z
  .object({
    triggered: z.literal(false),
    event: z.enum(BACKUP_EVENTS),
    target: z.string(),
    dossier: z.string(),
    setting: eventSetting,
    reason: z.literal('disabled'),
    message: z.string(),
  })
  .register(contractSchemas, { id: 'BackupDisabled' });
export type BackupDisabledAnswer = z.infer<typeof backupDisabledAnswer>;

/** An exit backup (R-BK-9 on-exit) after a dossier close or a logout: started, or why not. */
export const exitBackup = z
  .union([
    backupStartedAnswer,
    z.object({
      triggered: z.literal(false),
      reason: z.enum(['in-use', 'temporal-unavailable', 'failed']),
      message: z.string(),
    }),
  ])
  .register(contractSchemas, { id: 'ExitBackup' });
export type ExitBackup = z.infer<typeof exitBackup>;

export const logoutAnswer = z
  .object({
    closed: z.literal(true),
    reason: z.enum(['logout', 'acknowledged']).describe('acknowledged: the logout answered a close order (R-MW-7)'),
    backups: z
      .array(z.intersection(z.object({ dossier: z.string() }), exitBackup))
      .optional()
      .describe('only when on-exit is always and the session held dossiers'),
  })
  .register(contractSchemas, { id: 'Logout' });
export type LogoutAnswer = z.infer<typeof logoutAnswer>;

export const dossierOpenedAnswer = z.object({ dossier: z.string(), open: z.literal(true) }).register(contractSchemas, { id: 'DossierOpened' });
export type DossierOpenedAnswer = z.infer<typeof dossierOpenedAnswer>;

export const dossierClosedAnswer = z
  .object({
    dossier: z.string(),
    open: z.literal(false),
    backup: exitBackup.optional().describe('only when on-exit is always (R-BK-9)'),
  })
  .register(contractSchemas, { id: 'DossierClosed' });
export type DossierClosedAnswer = z.infer<typeof dossierClosedAnswer>;

export const dossierInUseAnswer = errorAnswer
  .extend({
    triggered: z.literal(false),
    message: z.string().describe('the R-BK-3 text'),
    sessions: z.int().positive().describe('live sessions holding the dossier open'),
    heldBySession: z.boolean().describe('the calling session is one of them'),
  })
  .register(contractSchemas, { id: 'DossierInUse' });

export const temporalDownAnswer = errorAnswer.extend({ triggered: z.literal(false).optional() }).register(contractSchemas, { id: 'BackupNotStarted' });

export const healthAnswer = z.object({ ok: z.literal(true) }).register(contractSchemas, { id: 'Health' });

export const readyAnswer = z
  .object({
    ready: z.boolean().describe("the gate can serve: at least one target database answers it (with a key: the key's target's database answers)"),
    degraded: z
      .literal(true)
      .optional()
      .describe("without a key: at least one target database does not answer (its calls get 503, the others are served); which one is in the gate's log, or in /readyz with that target's key"),
    target: z.string().optional().describe("with a key: the key's target"),
    database: z.enum(['ok', 'unreachable']).optional().describe("with a key: its target's database, checked by this request"),
  })
  .register(contractSchemas, { id: 'Ready' });
export type ReadyAnswer = z.infer<typeof readyAnswer>;

contractSchemas.add(loginBody, { id: 'LoginRequest' });
contractSchemas.add(backupTriggerBody, { id: 'BackupRequest' });

// ---- routes --------------------------------------------------------------------------------------

/** public: no credential; optional-key: more with a key; key: the application's key; session: the key and the session's bearer token. */
export type Security = 'public' | 'optional-key' | 'key' | 'session';

export interface ResponseContract {
  description: string;
  /** absent: no JSON body (the HTML page, an empty answer) */
  schema?: z.ZodType;
  contentType?: 'application/json' | 'text/html';
}

export interface RouteContract {
  operationId: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** OpenAPI template: /v1/sessions/{id} */
  path: string;
  summary: string;
  description?: string;
  tag: 'sessions' | 'dossiers' | 'targets' | 'public';
  security: Security;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** a body that accepts undefined is documented as optional */
  body?: z.ZodType;
  responses: Record<number, ResponseContract>;
}

const err = (description: string, schema: z.ZodType = errorAnswer): ResponseContract => ({ description, schema });

const keyRefusals = {
  401: err('missing, malformed, unknown or revoked key (x-nightshift-key), or for session routes a missing or wrong session token: nothing changed'),
  403: err('the key belongs to another target than the one named (whether that target exists or not)'),
} as const;
/** Session routes name no target: a session of another target than the key's is an unknown session (404), as for a made-up id (R-SE-4). */
const sessionRefusals = { 401: keyRefusals[401] } as const;
const sessionMisses = {
  400: err('a malformed id or code, or a body other than none or {} (field names it)'),
  404: err("unknown session (another target's session included: the same answer), session closed or expired (the application closes), or unknown dossier"),
  503: err('the target database is unreachable'),
} as const;

export const routes = {
  status: {
    operationId: 'getTargetStatus',
    method: 'GET',
    path: '/v1/targets/{target}/status',
    summary: "A target's state for the login page: open, announced or closed, with the notice to show (R-SE-3, R-MW-4..6)",
    tag: 'targets',
    security: 'key',
    params: targetParams,
    headers: localeHeaders,
    responses: {
      200: { description: 'the state and, while announced or closed, the window and its notice', schema: statusAnswer },
      400: err('Accept-Language over 256 characters'),
      ...keyRefusals,
      503: err('the target database is unreachable'),
    },
  },
  login: {
    operationId: 'login',
    method: 'POST',
    path: '/v1/targets/{target}/sessions',
    summary: 'Log a user in (R-SE-1): a session and its token, or a refusal while a window refuses logins (R-MW-5, R-MW-6)',
    description: 'The answer carries a token: it is sent with Cache-Control: no-store.',
    tag: 'sessions',
    security: 'key',
    params: targetParams,
    headers: localeHeaders,
    body: loginBody,
    responses: {
      201: { description: 'the session; heartbeat every heartbeatSeconds', schema: loginAnswer },
      400: err('a malformed body (field names the field)'),
      ...keyRefusals,
      413: err('a body over 16 KB'),
      415: err('a body that is not application/json'),
      423: err('logins are refused: show message to the user', loginRefusedAnswer),
      429: err('too many logins on this target from this client address, or with this key, a minute, or the key holds its cap of open sessions (R-SE-5): retry after Retry-After, or close sessions'),
      503: err('the target database is unreachable'),
    },
  },
  heartbeat: {
    operationId: 'heartbeat',
    method: 'POST',
    path: '/v1/sessions/{id}/heartbeat',
    summary: 'Keep a session alive and learn what to do: continue (with an announcement to show) or close (R-SE-1, R-MW-7)',
    tag: 'sessions',
    security: 'session',
    params: sessionParams,
    headers: localeHeaders,
    body: noBody,
    responses: {
      200: { description: 'continue, or close with its deadline', schema: heartbeatAnswer },
      ...sessionMisses,
      ...sessionRefusals,
    },
  },
  logout: {
    operationId: 'logout',
    method: 'DELETE',
    path: '/v1/sessions/{id}',
    summary: 'Log out; after a close order this is the acknowledgement (R-MW-7). Leaving held dossiers is an exit (R-BK-9)',
    tag: 'sessions',
    security: 'session',
    params: sessionParams,
    body: noBody,
    responses: {
      200: { description: 'closed', schema: logoutAnswer },
      ...sessionMisses,
      ...sessionRefusals,
    },
  },
  openDossier: {
    operationId: 'openDossier',
    method: 'POST',
    path: '/v1/sessions/{id}/dossiers/{code}',
    summary: 'The session opens a dossier: it is in use (R-SE-2, R-BK-3) until closed, logged out or expired',
    tag: 'dossiers',
    security: 'session',
    params: dossierParams,
    body: noBody,
    responses: {
      200: { description: 'held open (again: idempotent)', schema: dossierOpenedAnswer },
      ...sessionMisses,
      ...sessionRefusals,
      409: err('the session holds its cap of open dossiers (R-SE-5): close one first'),
    },
  },
  closeDossier: {
    operationId: 'closeDossier',
    method: 'DELETE',
    path: '/v1/sessions/{id}/dossiers/{code}',
    summary: 'The session closes a dossier; with on-exit always, the last session to leave it triggers its backup (R-BK-9)',
    tag: 'dossiers',
    security: 'session',
    params: dossierParams,
    body: noBody,
    responses: {
      200: { description: 'no longer held by this session', schema: dossierClosedAnswer },
      ...sessionMisses,
      ...sessionRefusals,
    },
  },
  backupDossier: {
    operationId: 'backupDossier',
    method: 'POST',
    path: '/v1/sessions/{id}/dossiers/{code}/backup',
    summary: 'Back up one dossier before a provider exchange, before closing it, or on exit (R-BK-9, R-BK-5)',
    tag: 'dossiers',
    security: 'session',
    params: dossierParams,
    body: backupTriggerBody,
    responses: {
      200: { description: "the event's setting is off: nothing started", schema: backupDisabledAnswer },
      202: { description: 'the backup workflow started, or was already running for this dossier and event', schema: backupStartedAnswer },
      400: err('a malformed id, code or body (field names it)'),
      ...sessionRefusals,
      404: err("unknown session (another target's session included: the same answer), session closed or expired, or unknown dossier"),
      409: err('the dossier is open in a session (this one included): close it first (R-BK-3)', dossierInUseAnswer),
      413: err('a body over 16 KB'),
      415: err('a body that is not application/json'),
      503: err('Temporal or the target database is unreachable: no backup was started', temporalDownAnswer),
    },
  },
  health: {
    operationId: 'health',
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness: the process answers. It reads nothing and says nothing',
    tag: 'public',
    security: 'public',
    responses: { 200: { description: 'alive', schema: healthAnswer } },
  },
  ready: {
    operationId: 'ready',
    method: 'GET',
    path: '/readyz',
    summary: "Readiness: the gate can serve (at least one target database answers; degraded when one does not); with a key (optional here), the key's target's",
    description:
      "Without a key: 200 while at least one target database answers (with degraded: true when another does not), 503 when none does; re-checked at most once a second. With a valid key: 200 or 503 as the key's target's database answers, pinged by the request.",
    tag: 'public',
    security: 'optional-key',
    responses: {
      200: { description: 'ready', schema: readyAnswer },
      503: { description: "no target database answers (with a key: the key's target's does not)", schema: readyAnswer },
    },
  },
  page: {
    operationId: 'noticePage',
    method: 'GET',
    path: '/',
    summary: "The notice page a user's browser shows (seed 004's login-page notice): ?target=NAME for one target's notices",
    description:
      "With ?target=NAME, that target's notices only, each headed with its name; a name this gate does not serve shows no notice, as a target with none (which names exist is not public). Without it: a gate serving one target shows its notices; one serving several shows none, only that each target has its page.",
    tag: 'public',
    security: 'public',
    query: pageQuery,
    headers: localeHeaders,
    responses: {
      200: { description: 'an HTML page', contentType: 'text/html' },
      503: {
        description: 'the status of the target shown cannot be read now (its database does not answer): an HTML page saying the state is unknown, never "no maintenance", with no error text',
        contentType: 'text/html',
      },
    },
  },
  openapi: {
    operationId: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'public',
    security: 'public',
    responses: { 200: { description: 'the OpenAPI 3.1 document', schema: z.record(z.string(), z.unknown()) } },
  },
} as const satisfies Record<string, RouteContract>;

export type RouteName = keyof typeof routes;

/** fastify's form of a path template: /v1/sessions/{id} → /v1/sessions/:id */
export function fastifyPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}
