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
 * Worker processes trade a little V8 speed for memory (issue 11: worker RSS < 256 MB): `--optimize-for-size`
 * makes V8 shrink the young generation after each scavenge instead of letting it grow to 2 x 16 MB, and
 * grow the old generation more slowly. Set at run time (the bench and the operator start `node` without
 * flags), before Worker.create, so the workflow thread's isolate is created with it too. Measured on
 * `bench/backup-batch-scale.ts 2000`: peak worker RSS 251 -> 231 MB, CPU per dossier unchanged. GC tuning
 * only: no effect on what the worker does. Idempotent.
 */
export function favourMemoryOverSpeed(): void {
  v8.setFlagsFromString('--optimize-for-size');
}

/**
 * glibc gives each thread that allocates its own malloc arena (up to 8 per core), and a worker has many: libuv's
 * pool (gzip, fs), the Rust core's runtime, the workflow thread, V8's helpers. Two arenas hold the same work with
 * ~35 MB less RSS (bench/backup-batch-scale.ts 2000: 223 -> 187 MB, CPU per dossier unchanged). glibc reads it
 * once, when the process starts: so it is set by whatever starts the worker (the image's ENV, the cluster's
 * workers, the bench's worker, the README's unit file), and `nightshift worker` says so when it is missing.
 */
export const WORKER_MALLOC_ENV = { MALLOC_ARENA_MAX: '2' } as const;

/** The start-up note of a worker process started without WORKER_MALLOC_ENV (undefined when it is set). */
export function mallocArenaNote(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MALLOC_ARENA_MAX) return undefined;
  return 'MALLOC_ARENA_MAX is not set: glibc gives each thread its own malloc arena; start the worker with MALLOC_ARENA_MAX=2 for ~35 MB less memory (README, Worker memory)';
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
