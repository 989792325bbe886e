import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, Runtime, DefaultLogger, type WorkerOptions } from '@temporalio/worker';
import { loadConfig, type Config } from '../../config/config';
import { migrate } from '../../db/migrate';
import { createTargetPools, type TargetPools } from '../../workers/resources';
import { createActivities } from '../../workers/activities';

/** Helpers over the servers started by test/setup/global-setup.ts. */

let runtimeQuiet = false;
/** One quiet Runtime logger for all tests of a file (the SDK logs to the console otherwise). */
export function quietRuntime(): void {
  if (runtimeQuiet) return;
  runtimeQuiet = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by an earlier call in this process
  }
}

export function requireEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through jest (global setup)`);
  return v;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(4).toString('hex')}`;
}

export function tempDir(prefix: string): string {
  const dir = path.join(requireEnv('NS_TEST_TMP'), uniqueName(prefix));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** A statement as the test server's superuser (the `postgres` database). */
export async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: requireEnv('NS_TEST_PG_ADMIN_URL') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function databaseUrl(name: string): string {
  const url = new URL(requireEnv('NS_TEST_PG_ADMIN_URL'));
  url.pathname = `/${name}`;
  return url.toString();
}

let template: Promise<string> | undefined;
/**
 * A fresh database with the migrations applied: one per test file keeps files independent. The
 * migrations run once per test process into a template database, which each call clones.
 */
export async function createTestDatabase(prefix = 'ns'): Promise<string> {
  template ??= (async () => {
    const name = uniqueName('tpl').toLowerCase();
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
    await migrate(databaseUrl(name));
    return name;
  })();
  const tpl = await template;
  const name = uniqueName(prefix).toLowerCase();
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${tpl}`));
  return databaseUrl(name);
}

export interface TestStack {
  config: Config;
  pools: TargetPools;
  dataDir: string;
  databaseUrl: string;
  close(): Promise<void>;
}

/** Config + pools for one target `main` on a fresh database and a fresh data folder. */
export async function createTestStack(extraEnv: Record<string, string> = {}): Promise<TestStack> {
  const databaseUrl = await createTestDatabase();
  const dataDir = tempDir('data');
  const config = loadConfig({
    NIGHTSHIFT_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: uniqueName('tq'),
    ...extraEnv,
  });
  const pools = createTargetPools(config);
  return { config, pools, dataDir, databaseUrl, close: () => pools.end() };
}

/**
 * A test file's stack, made before its tests and closed after them: `const stack = useTestStack();` then `stack()` in a
 * test (the `let stack` / beforeAll / afterAll lines many files still write out).
 */
export function useTestStack(extraEnv: Record<string, string> = {}): () => TestStack {
  let stack: TestStack | undefined;
  beforeAll(async () => {
    stack = await createTestStack(extraEnv);
  });
  afterAll(async () => {
    await stack?.close();
  });
  return () => {
    if (!stack) throw new Error('the test stack is made in beforeAll: use it inside a test');
    return stack;
  };
}

export async function devServerClient(): Promise<{ client: Client; nativeConnection: NativeConnection; close(): Promise<void> }> {
  const address = requireEnv('NS_TEST_TEMPORAL_ADDRESS');
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection }),
    nativeConnection,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** A worker over the pre-built workflow bundle with every Nightshift activity, for one test. */
export async function createTestWorker(
  stack: TestStack,
  connection: NativeConnection,
  options: Partial<WorkerOptions> = {},
): Promise<Worker> {
  quietRuntime();
  return Worker.create({
    connection,
    taskQueue: stack.config.temporal.taskQueue,
    workflowBundle: { codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') },
    activities: createActivities({ config: stack.config, pools: stack.pools }),
    ...options,
  });
}
