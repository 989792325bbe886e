import path from 'node:path';
import { GracefulShutdownPeriodExpiredError, Runtime, Worker, makeTelemetryFilterString, type WorkerOptions } from '@temporalio/worker';
import type { Duration } from '@temporalio/common';
import { UsageError, type Config } from '../config/config';
import { migrate } from '../db/migrate';
import { createActivities } from './activities';
import { sweepAbandonedRestoreCopies } from '../activities/backup';
import { loadBackupKeyring } from '../archive/keys';
import { assertSharedFolders } from '../shared-store/marker';
import { bundleWorkflowsInChild } from './bundle';
import { connectTemporalClient, connectWorkerConnection, createMailTransport, createTargetPools, DOSSIER_WORK, limitHeapGrowth, workerMemoryNote } from './resources';
import { createLogger, temporalLogger, type PinoLogger } from './logger';

/**
 * The worker process (`nightshift worker`, and in-process under `nightshift dev`): one Runtime with one
 * logger and the Prometheus endpoint, migrations on every target, then every workflow and activity on
 * the task queue until `signal` aborts, followed by a graceful shutdown.
 */

export const WORKFLOWS_PATH = path.join(__dirname, '..', 'workflows', 'index.ts');
/** In-flight activities get this long to finish after a shutdown request; then they are cancelled and retried elsewhere. */
export const SHUTDOWN_GRACE_TIME: Duration = '10s';
/** After this, run() gives up waiting for activities that ignore cancellation, so the process can exit. */
const SHUTDOWN_FORCE_MS = 20_000;
export const SHUTDOWN_FORCE_TIME: Duration = SHUTDOWN_FORCE_MS;
/** Heartbeats go out at least this often (the SDK's default throttle is 0.8 x the heartbeat timeout). */
export const MAX_HEARTBEAT_THROTTLE: Duration = '3s';

export interface RunWorkerOptions {
  /** Aborting it starts the graceful shutdown; runWorker resolves once the worker has drained. */
  signal?: AbortSignal;
  /** The log sink (default: pino to stdout at config.logLevel). Only the first runWorker of a process installs it. */
  logger?: PinoLogger;
  /** Called once the worker polls its task queue. */
  onReady?: (worker: Worker) => void;
  /** Tests: a pre-built bundle or other workflows, extra activities, a shorter grace time. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  workflowsPath?: string;
  extraActivities?: Record<string, (...args: never[]) => Promise<unknown>> | ((deps: { pools: ReturnType<typeof createTargetPools> }) => Record<string, (...args: never[]) => Promise<unknown>>);
  shutdownGraceTime?: Duration;
}

/**
 * The Runtime is a per-process singleton, installed with our logger and the metrics endpoint. The SDK
 * drops it when its last worker and connection close, so each runWorker installs it again if needed.
 * Signals are handled by the caller (shutdownSignals: []) so that `dev` can order its own shutdown.
 */
export function installRuntime(config: Config, logger: PinoLogger): { metricsAddress?: string } {
  // an IP address (config/config.ts): an IPv6 one in brackets, as a socket address spells it
  const host = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
  const metricsAddress = `${host}:${config.metricsPort}`;
  try {
    Runtime.install({
      logger: temporalLogger(logger),
      shutdownSignals: [],
      telemetryOptions: {
        logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} },
        metrics: { prometheus: { bindAddress: metricsAddress } },
      },
    });
    return { metricsAddress };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/already been (installed|instantiated)/.test(message)) {
      // A Runtime is already there (a running worker, a test helper): keep it, and its metrics endpoint if any.
      logger.debug('Temporal Runtime already installed in this process');
      return {};
    }
    const refusal = metricsRefusal(message, config);
    // no cause: the CLI prints the innermost message, and the exporter's names no variable (tester: `Address already in use`)
    if (refusal) throw new UsageError(refusal);
    throw err;
  }
}

/** One line naming the variable to change, as the gate says it for its own listeners (exit 2). */
function metricsRefusal(message: string, config: Config): string | undefined {
  const shown = JSON.stringify(config.metricsHost.slice(0, 100));
  const port = config.metricsPort;
  if (/in use|os error 98\b/i.test(message)) return `NIGHTSHIFT_METRICS_PORT: port ${port} is already in use on ${shown}: stop what listens there or choose another port`;
  if (/permission denied|os error 13\b/i.test(message)) return `NIGHTSHIFT_METRICS_PORT: not allowed to listen on port ${port} (ports below 1024 need privileges): choose another port`;
  if (/assign requested address|not available|os error 99\b|socket address/i.test(message)) {
    return `NIGHTSHIFT_METRICS_HOST: cannot listen on ${shown}: give an IP address of this machine, such as 127.0.0.1 or 0.0.0.0`;
  }
  if (/address|bind/i.test(message)) return `NIGHTSHIFT_METRICS_HOST, NIGHTSHIFT_METRICS_PORT: cannot serve the worker's metrics on ${shown} port ${port} (${message.slice(0, 200)})`;
  return undefined;
}

/** After a forced shutdown, how long the pools may take to end before the process goes on without them. */
const POOLS_END_AFTER_FORCE_MS = 5_000;
/** How long past SHUTDOWN_FORCE_TIME run() may take to settle before its activities are taken as abandoned. */
const FORCED_MARGIN_MS = 2_000;

/**
 * Resolves once the worker has drained. `abandoned`: activities still ran SHUTDOWN_FORCE_TIME after the shutdown
 * request (a statement waiting on a lock, say) and were left to Temporal's retries; their connections may still be
 * busy, so the caller should exit rather than wait for them (drill U: `nightshift worker` stayed up 140 s after
 * SIGTERM, past systemd's stop timeout, then ended with "Worker still in use").
 */
export async function runWorker(config: Config, options: RunWorkerOptions = {}): Promise<{ abandoned: boolean }> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const signal = options.signal;
  // backup keys that cannot be read (a bad entry, a missing key file, an unknown current id) refuse the start, in one
  // line, rather than fail every backup and verification later
  loadBackupKeyring(config.backupKeys);
  limitHeapGrowth();
  const memoryNote = workerMemoryNote();
  if (memoryNote) logger.info(memoryNote);

  for (const target of config.targets) {
    const applied = await migrate(target.databaseUrl, (msg) => logger.debug({ target: target.name }, msg), {
      database: target.name,
      notice: (msg) => logger.info({ target: target.name }, msg),
    });
    if (applied.length) logger.info({ target: target.name, applied }, 'migrations applied');
  }
  if (signal?.aborted) return { abandoned: false };
  const swept = await sweepAbandonedRestoreCopies();
  if (swept.length) logger.info({ swept }, `removed ${swept.length} off-site copy folder(s) a restore killed mid-read left in TMPDIR`);

  const pools = createTargetPools(config, undefined, DOSSIER_WORK);
  let abandoned = false;
  const mail = createMailTransport(config);
  let connection: Awaited<ReturnType<typeof connectWorkerConnection>> | undefined;
  let temporal: Awaited<ReturnType<typeof connectTemporalClient>> | undefined;
  try {
    // Every worker of a target must see the same backup and documents folders (issue 10): refuse otherwise, in one line.
    await assertSharedFolders(config, pools, (msg) => logger.info(msg));
    if (signal?.aborted) return { abandoned };
    // only now: an installed Runtime keeps the process alive, and a refused worker must exit at once
    installRuntime(config, logger);
    connection = await connectWorkerConnection(config);
    // activities ask it whether a run's workflow is closed before taking the run over (R-BK-1)
    temporal = await connectTemporalClient(config);
    const extra = typeof options.extraActivities === 'function' ? options.extraActivities({ pools }) : options.extraActivities;
    const activities = { ...createActivities({ config, pools, mail, temporal }), ...extra };
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle: options.workflowBundle ?? (await bundleWorkflowsInChild(options.workflowsPath ?? WORKFLOWS_PATH)),
      activities,
      maxConcurrentActivityTaskExecutions: config.workerConcurrency,
      shutdownGraceTime: options.shutdownGraceTime ?? SHUTDOWN_GRACE_TIME,
      shutdownForceTime: SHUTDOWN_FORCE_TIME,
      // heartbeats reach the server every 3 s at most apart, so a 10 s heartbeat timeout has room and a dead worker is noticed in ~10 s
      maxHeartbeatThrottleInterval: MAX_HEARTBEAT_THROTTLE,
    });
    const stop = () => {
      if (worker.getState() === 'RUNNING') {
        logger.info('shutdown requested: finishing in-flight activities');
        worker.shutdown();
      }
    };
    // A signal that fired while Worker.create was bundling must still stop the worker.
    signal?.addEventListener('abort', stop, { once: true });
    const running = worker.run();
    // at SHUTDOWN_FORCE_TIME the SDK gives up on activities that ignore cancellation, but run() settles only once they
    // end (an activity waiting on a lock: minutes): past that time and a margin, the worker is left to end by itself
    let forced: NodeJS.Timeout | undefined;
    const forcedOut = new Promise<'forced'>((resolve) => {
      signal?.addEventListener('abort', () => (forced = setTimeout(() => resolve('forced'), SHUTDOWN_FORCE_MS + FORCED_MARGIN_MS)), { once: true });
    });
    logger.info({ taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace, address: config.temporal.address }, 'worker running');
    if (signal?.aborted) stop();
    else options.onReady?.(worker);
    try {
      if ((await Promise.race([running, forcedOut])) === 'forced') {
        running.catch(() => {});
        abandoned = true;
      }
    } catch (err) {
      // at SHUTDOWN_FORCE_TIME run() rejects with "Worker still in use: Expected 1 reference, but got 2" (an activity
      // that ignored its cancellation still holds the worker), or settles only once such activities end
      const heldByActivities = err instanceof Error && err.name === 'IllegalStateError' && /still in use/.test(err.message);
      if (!signal?.aborted || !(err instanceof GracefulShutdownPeriodExpiredError || heldByActivities)) throw err;
      abandoned = true;
    } finally {
      clearTimeout(forced);
      signal?.removeEventListener('abort', stop);
    }
    if (abandoned) {
      logger.warn(
        `in-flight activities did not end within ${SHUTDOWN_FORCE_MS / 1000} s of the shutdown request (a statement waiting on a lock?): ` +
          'left to Temporal, which retries them on another worker; their database connections are not waited for',
      );
    }
    logger.info('worker stopped');
    return { abandoned };
  } finally {
    mail.close();
    if (abandoned) {
      // pool.end() waits for every client checked out: an abandoned activity's may wait on a lock for minutes
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([pools.end().then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), POOLS_END_AFTER_FORCE_MS)))]);
      clearTimeout(timer);
      if (!ended) logger.warn('database connections still busy after the forced shutdown: not waited for (PostgreSQL ends their sessions once it finds the worker gone)');
      // the abandoned activities still hold the worker: closing its connection waits for them, then is refused
      // ("Worker still in use"): not waited for either
      let closing: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([temporal?.connection.close(), connection?.close()]),
        new Promise<void>((r) => (closing = setTimeout(r, POOLS_END_AFTER_FORCE_MS))),
      ]);
      clearTimeout(closing);
    } else {
      await pools.end();
      await temporal?.connection.close();
      await connection?.close();
    }
  }
}
