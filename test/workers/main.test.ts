import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { Context } from '@temporalio/activity';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig, type Config } from '../../config/config';
import { runWorker } from '../../workers/main';
import { requireEnv, uniqueName } from '../helpers/env';
import { freePort } from '../stack/helpers';
import type { lockedWorkflow, slowWorkflow } from './fixtures/slow-workflow';

/**
 * The worker process (issue 2, "Worker"): migrations at start, graceful shutdown that finishes or hands
 * back in-flight activities, and the Prometheus endpoint of the Temporal Runtime.
 * No NativeConnection is opened here before runWorker: it must be the one installing the Runtime.
 */

let bundle: { code: string };
let client: Client;
let connection: Connection;
let databaseUrl: string;
let metricsPort: number;

/** Per test: how often slowStep started and completed, and a way to wait for its start. */
let completions = 0;
let onStart: (attempt: number) => void = () => {};

async function slowStep(ms: number): Promise<string> {
  const ctx = Context.current();
  const attempt = ctx.info.attempt;
  onStart(attempt);
  // Only the first attempt is slow: a retry after a hand-back finishes at once.
  const end = Date.now() + (attempt === 1 ? ms : 0);
  while (Date.now() < end) {
    ctx.heartbeat();
    await ctx.sleep(100); // rejects when the worker cancels the activity at the end of its grace time
  }
  completions++;
  return `done after attempt ${attempt}`;
}

function startedOnce(): Promise<number> {
  return new Promise((resolve) => {
    onStart = (attempt) => {
      onStart = () => {};
      resolve(attempt);
    };
  });
}

let sharedDataDir: string | undefined;
function configFor(taskQueue: string): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    NIGHTSHIFT_METRICS_PORT: String(metricsPort),
    // one folder for every worker of this target: workers of a target share their folders (issue 10)
    NIGHTSHIFT_DATA_DIR: (sharedDataDir ??= path.join(requireEnv('NS_TEST_TMP'), uniqueName('worker'))),
    NIGHTSHIFT_LOG_LEVEL: 'warn',
  });
}

function start(config: Config, shutdownGraceTime: string): { stop(): void; done: Promise<{ abandoned: boolean }>; ready: Promise<unknown> } {
  const controller = new AbortController();
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const done = runWorker(config, {
    signal: controller.signal,
    logger: pino({ level: 'warn' }),
    workflowBundle: bundle,
    // lockedStep holds one of the worker's own connections, ignoring cancellation (a backup waiting on a table lock)
    extraActivities: ({ pools }) => ({
      slowStep,
      lockedStep: async (seconds: number) => {
        const c = await pools.get('main').connect();
        try {
          await c.query('SELECT pg_sleep($1)', [seconds]);
        } finally {
          c.release();
        }
        return 'slept';
      },
    }),
    shutdownGraceTime,
    onReady: () => ready(),
  });
  return { stop: () => controller.abort(), done, ready: Promise.race([readyP, done]) };
}

beforeAll(async () => {
  bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/slow-workflow'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
  });
  connection = await Connection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  client = new Client({ connection });
  // A bare database: the worker must apply the migrations itself.
  const url = new URL(requireEnv('NS_TEST_PG_ADMIN_URL'));
  url.pathname = `/${uniqueName('wk').toLowerCase()}`;
  databaseUrl = url.toString();
  const admin = new pg.Client({ connectionString: requireEnv('NS_TEST_PG_ADMIN_URL') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${new URL(databaseUrl).pathname.slice(1)}`);
  await admin.end();
  metricsPort = await freePort();
});

afterAll(async () => {
  await connection?.close();
});

beforeEach(() => {
  completions = 0;
});

test('worker start applies the migrations of its target', async () => {
  const w = start(configFor(uniqueName('tq')), '1s');
  await w.ready;
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ present: boolean }>(`SELECT to_regclass('nightshift.dossier') IS NOT NULL AS present`);
    expect(rows[0]?.present).toBe(true);
  } finally {
    await db.end();
    w.stop();
    await w.done;
  }
});

test('backup keys that cannot be read refuse the start before anything is touched (one line naming the variable)', async () => {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
    NIGHTSHIFT_DATA_DIR: path.join(requireEnv('NS_TEST_TMP'), uniqueName('badkeys')),
    NIGHTSHIFT_BACKUP_KEYS: 'k1=notbase64!!',
  });
  await expect(runWorker(config, { logger: pino({ level: 'silent' }) })).rejects.toThrow(/NIGHTSHIFT_BACKUP_KEYS: entry 1: key k1/);
  const missingFile = { ...config, backupKeys: loadConfig({ DATABASE_URL: databaseUrl, NIGHTSHIFT_BACKUP_KEYS_FILE: '/nonexistent/keys' }).backupKeys };
  await expect(runWorker(missingFile, { logger: pino({ level: 'silent' }) })).rejects.toThrow(/NIGHTSHIFT_BACKUP_KEYS_FILE/);
});

test('shutdown lets an in-flight activity finish within the grace time; its result is kept for the next worker', async () => {
  const config = configFor(uniqueName('tq'));
  const first = start(config, '30s');
  await first.ready;
  const started = startedOnce();
  const handle = await client.workflow.start<typeof slowWorkflow>('slowWorkflow', {
    taskQueue: config.temporal.taskQueue,
    workflowId: uniqueName('slow'),
    args: [1500],
  });
  expect(await started).toBe(1);
  first.stop();
  await first.done;
  // The worker returned only after the running activity had completed.
  expect(completions).toBe(1);

  const second = start(config, '30s');
  try {
    await second.ready;
    // Attempt 1's result reached the server: no retry happened.
    expect(await handle.result()).toBe('done after attempt 1');
    expect(completions).toBe(1);
  } finally {
    second.stop();
    await second.done;
  }
});

test('an activity still running after the grace time is handed back and retried by the next worker', async () => {
  const config = configFor(uniqueName('tq'));
  const first = start(config, '1s');
  await first.ready;
  const started = startedOnce();
  const handle = await client.workflow.start<typeof slowWorkflow>('slowWorkflow', {
    taskQueue: config.temporal.taskQueue,
    workflowId: uniqueName('slow'),
    args: [600_000],
  });
  await started;
  first.stop();
  await first.done;
  expect(completions).toBe(0);

  const second = start(config, '30s');
  try {
    await second.ready;
    expect(await handle.result()).toBe('done after attempt 2');
  } finally {
    second.stop();
    await second.done;
  }
});

// drill U: SIGTERM to a worker whose activity waited on a table lock: the process stayed up ~140 s (pool.end() waited
// for the busy connection), past systemd's stop timeout, then ended with "Worker still in use"
test('an activity that ignores cancellation and holds a database connection is abandoned at the forced shutdown: the worker ends without waiting for its connection', async () => {
  const config = configFor(uniqueName('tq'));
  const first = start(config, '1s');
  await first.ready;
  const handle = await client.workflow.start<typeof lockedWorkflow>('lockedWorkflow', { taskQueue: config.temporal.taskQueue, workflowId: uniqueName('locked'), args: [90] });
  // the statement is running in PostgreSQL
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const { rows } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(%' AND state = 'active' AND pid <> pg_backend_pid()");
      if (rows[0]!.n > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const stoppedAt = Date.now();
    first.stop();
    expect(await first.done).toEqual({ abandoned: true });
    // the forced shutdown (20 s) and at most 5 s for the pools, not the 90 s of the statement
    expect(Date.now() - stoppedAt).toBeLessThan(40_000);
  } finally {
    // cancelled, not terminated: the activity's query fails and it releases its connection (a terminated one would
    // emit an 'error' event on a client no pool listens to any more)
    await admin.query("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(%' AND pid <> pg_backend_pid()");
    await admin.end();
    await client.workflow.getHandle(handle.workflowId).terminate('test over').catch(() => {});
  }
}, 90_000);

test('the worker serves Prometheus metrics from the Temporal Runtime on NIGHTSHIFT_METRICS_PORT', async () => {
  const w = start(configFor(uniqueName('tq')), '1s');
  try {
    await w.ready;
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^# (HELP|TYPE) temporal_/m);
    expect(text).toContain('temporal_');
  } finally {
    w.stop();
    await w.done;
  }
});
