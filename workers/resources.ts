import fs from 'node:fs';
import v8 from 'node:v8';
import pg from 'pg';
// Type-only imports: the Temporal and mail packages are loaded by the function that needs them, so that
// a CLI command pays only for what it uses (start-up time).
import type { Client, ConnectionOptions } from '@temporalio/client';
import type { NativeConnection, NativeConnectionOptions } from '@temporalio/worker';
import type { Transporter } from 'nodemailer';
import type { Config } from '../config/config';
import { FailureType, permanentFailure } from '../domain/failures';

/**
 * The only place that builds pg pools, Temporal connections and the mail transport (style.md §3).
 * The worker, the CLI and the gate all come here.
 */

/**
 * Two settings of a worker process that only whatever starts it can make (both are read once, when the process
 * starts), for the worker's RSS (issue 11: under 256 MB):
 * - `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates its own malloc arena (up to 8 per core), and a worker
 *   has many (libuv's pool doing compression and file writes, the Rust core's runtime, the workflow thread, V8's
 *   helpers). Two arenas hold the same work with ~35 MB less RSS (bench/backup-batch-scale.ts 2000: 223 -> 187 MB).
 * - `--max-semi-space-size=4` (in NODE_OPTIONS): V8's young generation stops at 2 x 4 MB instead of growing to
 *   2 x 16 MB under the worker's allocation rate (COPY chunks, archive frames). It replaces `--optimize-for-size`,
 *   set at run time until 2026-12-06, which held the young generation smaller still but made the worker's JavaScript
 *   slower: 19-21 ms of worker CPU per 200 KB dossier against 10-13 ms with this cap (bench/backup-batch-vs-loop.ts,
 *   README *Worker memory*). V8 sizes the young generation when the isolate is created: set at run time, the cap
 *   does nothing (measured), hence NODE_OPTIONS.
 * Set by the image's ENV, the cluster's workers, the bench's worker and the README's unit file; `nightshift worker`
 * says so when one is missing (workerMemoryNote).
 */
const WORKER_SEMI_SPACE_OPTION = '--max-semi-space-size=4';

/** Whether node's options (its command line, NODE_OPTIONS) set the young generation's size already. */
function semiSpaceGiven(options: readonly string[]): boolean {
  return options.some((a) => /^--max-semi-space-size\b/.test(a));
}

/**
 * The old generation grown by at most 1.25x at each full collection (V8's default for a large heap: up to 4x), set at
 * run time (V8 reads it at each collection), before Worker.create so that the workflow thread has it too. With the
 * young generation's cap, what `--optimize-for-size` did for memory without its cost in speed
 * (bench/backup-batch-scale.ts 10000: peak worker RSS 219 MB against 214 with it and 347 MB with the young
 * generation's cap alone; worker CPU per dossier in the batch 5.5 against 8.7 ms). Idempotent.
 */
export function limitHeapGrowth(): void {
  v8.setFlagsFromString('--heap-growing-percent=25');
}

/** What a worker's environment gets added (an operator's own NODE_OPTIONS and MALLOC_ARENA_MAX are kept). */
export function workerProcessEnv(env: NodeJS.ProcessEnv = process.env): { MALLOC_ARENA_MAX: string; NODE_OPTIONS: string } {
  const nodeOptions = env.NODE_OPTIONS?.trim() ?? '';
  return {
    MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || '2',
    NODE_OPTIONS: semiSpaceGiven(nodeOptions.split(/\s+/)) ? nodeOptions : `${nodeOptions} ${WORKER_SEMI_SPACE_OPTION}`.trim(),
  };
}

/** The start-up note of a worker process started without workerProcessEnv's settings (undefined when both are set). */
export function workerMemoryNote(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): string | undefined {
  const missing: string[] = [];
  if (!env.MALLOC_ARENA_MAX) missing.push('MALLOC_ARENA_MAX=2 (glibc gives each thread its own malloc arena: ~35 MB more)');
  if (!semiSpaceGiven([...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)])) {
    missing.push(`NODE_OPTIONS=${WORKER_SEMI_SPACE_OPTION} (V8's young generation grows to 2 x 16 MB)`);
  }
  if (!missing.length) return undefined;
  return `started without ${missing.join(' and ')}: set ${missing.length > 1 ? 'them' : 'it'} where the worker is started (README, Worker memory)`;
}

export interface TargetPools {
  names(): string[];
  get(target: string): pg.Pool;
  end(): Promise<void>;
}

/**
 * A PostgreSQL backend keeps catalog caches for every schema it has touched and never shrinks them: one
 * that walks thousands of dossiers (patches, backups) slows down steadily (measured: 50 -> 220 ms per
 * dossier over 1,000 dossiers for 20 patches). Recycling a connection after this many checkouts keeps
 * it flat for the cost of a connect every few dozen dossiers.
 */
export const CONNECTION_MAX_USES = 50;

/** Pools that walk dossier schemas (the worker's activities) pass this; the gate and the CLI keep their connections. */
export const DOSSIER_WORK = { maxUses: CONNECTION_MAX_USES } as const;

export function createTargetPools(config: Config, max = Math.max(4, config.workerConcurrency + 2), { maxUses }: { maxUses?: number } = {}): TargetPools {
  const pools = new Map<string, pg.Pool>();
  for (const t of config.targets) {
    // A server that does not answer is given up after 5 s (a retry follows), well inside the activities' 15 s
    // start-to-close; keepAlive notices a peer that vanished without a reset (a host down) on idle sockets.
    const pool = new pg.Pool({
      connectionString: t.databaseUrl,
      max,
      ...(maxUses ? { maxUses } : {}),
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    // A client losing its server must not crash the process: an idle one is the pool's 'error', a checked-out
    // one emits on itself (its query fails with the error anyway). The next query reconnects.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    pools.set(t.name, pool);
  }
  return {
    names: () => [...pools.keys()],
    get(target) {
      const pool = pools.get(target);
      if (!pool) throw permanentFailure(FailureType.UnknownTarget, `unknown target "${String(target).slice(0, 60)}"`);
      return pool;
    },
    async end() {
      await Promise.all([...pools.values()].map((p) => p.end()));
    },
  };
}

function tlsOptions(config: Config): ConnectionOptions['tls'] {
  const tls = config.temporal.tls;
  if (!tls) return undefined;
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: tls.serverCaCertPath ? fs.readFileSync(tls.serverCaCertPath) : undefined,
    clientCertPair:
      tls.clientCertPath && tls.clientKeyPath
        ? { crt: fs.readFileSync(tls.clientCertPath), key: fs.readFileSync(tls.clientKeyPath) }
        : undefined,
  };
}

/**
 * The Temporal client library, loaded when first asked for: a CLI command that never reaches Temporal (dossiers,
 * settings, --help) does not pay its ~0.25 s (test/structure/cli-start.test.ts). The one place it is loaded as a value.
 */
export function temporalClientLibrary(): typeof import('@temporalio/client') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@temporalio/client') as typeof import('@temporalio/client');
}

export async function connectTemporalClient(config: Config, connectTimeout: number | string = '5s'): Promise<Client> {
  const { Client, Connection } = temporalClientLibrary();
  const connection = await Connection.connect({
    address: config.temporal.address,
    tls: tlsOptions(config),
    apiKey: config.temporal.apiKey,
    connectTimeout,
  });
  return new Client({ connection, namespace: config.temporal.namespace });
}

/**
 * A workflow status under which its run may still write (R-BK-1, R-PI-2): RUNNING, or UNKNOWN (Temporal did not
 * answer). Its run row is never closed as abandoned then; any other status (completed, failed, terminated, timed out,
 * not found) means nobody runs it.
 */
export function mayStillRun(status: string): boolean {
  return status === 'RUNNING' || status === 'UNKNOWN';
}

/**
 * A workflow's status name (RUNNING, TERMINATED, ...), NOT_FOUND when the server has none, UNKNOWN when it
 * did not say (unreachable, slow): callers treat UNKNOWN as "may still run". Shared by the CLI and the
 * activities that must know whether a run's workflow is closed (R-BK-1).
 */
export function workflowStatus(client: Client, workflowId: string, runId?: string, timeoutMs = 5_000): Promise<string> {
  const { WorkflowNotFoundError } = temporalClientLibrary();
  const describe = client.withDeadline(Date.now() + timeoutMs, () => client.workflow.getHandle(workflowId, runId).describe());
  return describe.then(
    (d) => d.status.name,
    (err: unknown) => (err instanceof WorkflowNotFoundError ? 'NOT_FOUND' : 'UNKNOWN'),
  );
}

export async function connectWorkerConnection(config: Config): Promise<NativeConnection> {
  const options: NativeConnectionOptions = {
    address: config.temporal.address,
    tls: tlsOptions(config) as NativeConnectionOptions['tls'],
    apiKey: config.temporal.apiKey,
  };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NativeConnection: Native } = require('@temporalio/worker') as typeof import('@temporalio/worker');
  return Native.connect(options);
}

export function createMailTransport(config: Config): Transporter {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodemailer = require('nodemailer') as typeof import('nodemailer');
  return nodemailer.createTransport({
    host: config.smtp.host,
    port: config.smtp.port,
    secure: config.smtp.secure,
    auth: config.smtp.user ? { user: config.smtp.user, pass: config.smtp.password ?? '' } : undefined,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    tls: { rejectUnauthorized: false },
  });
}
