import path from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { createTestStack, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { freePort, waitFor } from './backup-batch-helpers';

/**
 * The worker-crash tests' harness: per test file, a test stack and a client of the dev server; real worker
 * processes (a fixture of test/workflows/fixtures/ run as `nightshift worker` runs, over the pre-built bundle)
 * on the stack's task queue, for the test to SIGKILL; every one still alive killed at the end.
 *
 *   const crash = crashHarness('backup-batch-worker.ts', { NS_TEST_DOSSIER_DELAY_MS: '250' });
 *   test('...', async () => {
 *     const workers = [await crash.startWorker(), await crash.startWorker()];
 *     const { busy, idle } = await chunkHolder(handle, 'applyPatchChunk', workers);
 *     await kill(busy);
 */

export interface CrashHarness {
  readonly stack: TestStack;
  readonly temporal: Awaited<ReturnType<typeof devServerClient>>;
  /** A worker process, once it says `worker ready`; `onOutput` sees each piece of its stdout; `env` adds to the harness's. */
  startWorker(o?: { onOutput?: (text: string, child: ChildProcess) => void; env?: Record<string, string> }): Promise<ChildProcess>;
}

export function crashHarness(fixture: string, env: Record<string, string> = {}): CrashHarness {
  let stack: TestStack | undefined;
  let temporal: Awaited<ReturnType<typeof devServerClient>> | undefined;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    quietRuntime();
    stack = await createTestStack();
    temporal = await devServerClient();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await temporal?.close();
    await stack?.close();
  });

  return {
    get stack() {
      return stack!;
    },
    get temporal() {
      return temporal!;
    },
    async startWorker(o = {}) {
      const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), `test/workflows/fixtures/${fixture}`], {
        cwd: PROJECT_ROOT,
        env: {
          ...process.env,
          DATABASE_URL: stack!.databaseUrl,
          NIGHTSHIFT_DATA_DIR: stack!.dataDir,
          TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
          TEMPORAL_TASK_QUEUE: stack!.config.temporal.taskQueue,
          NIGHTSHIFT_METRICS_PORT: String(await freePort()),
          NIGHTSHIFT_LOG_LEVEL: 'error',
          ...env,
          ...o.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        o.onOutput?.(d.toString(), child);
      });
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor('the worker to start', () => (out.includes('worker ready') ? true : child.exitCode !== null ? Promise.reject(new Error(out)) : undefined), 90_000);
      return child;
    },
  };
}

/** Sends `signal` (SIGKILL: a crash) and waits until the process has gone. */
export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const gone = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await gone;
}

/**
 * Which of the workers holds the workflow's pending `activityType` (a chunk): its last worker identity is
 * "pid@host". `busy` is undefined when none of them does (the test asserts it is found).
 */
export async function chunkHolder(
  handle: { describe(): Promise<{ raw: { pendingActivities?: { activityType?: { name?: string | null } | null; lastWorkerIdentity?: string | null }[] | null } }> },
  activityType: string,
  workers: ChildProcess[],
): Promise<{ busy: ChildProcess | undefined; idle: ChildProcess }> {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  const identity = pending.find((a) => a.activityType?.name === activityType)?.lastWorkerIdentity ?? '';
  const busy = workers.find((w) => identity.startsWith(`${w.pid}@`));
  return { busy, idle: workers.find((w) => w !== busy)! };
}
