import fs from 'node:fs';
import path from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import type { PatchRunResult } from '../../workflows/patch-integration.api';
import { createTestStack, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { freePort, waitFor } from './backup-batch-helpers';
import { blockablePatches, demoDossiers, openWindow, startRun } from './patch-helpers';

/**
 * Issue 10 on a patch run: two real worker processes on one task queue, the one running the chunk is
 * SIGKILLed mid-dossier. The other takes the chunk over after the heartbeat timeout; every patch is applied
 * once per dossier, and the run's ledger still says 0 -> 3, applied {1, 2, 3} for every dossier.
 */

let stack: TestStack;
let temporal: Awaited<ReturnType<typeof devServerClient>>;
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

async function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'test/workflows/fixtures/backup-batch-worker.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      NIGHTSHIFT_DATA_DIR: stack.dataDir,
      TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      NIGHTSHIFT_METRICS_PORT: String(await freePort()),
      NIGHTSHIFT_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the worker to start', () => (out.includes('worker ready') ? true : child.exitCode !== null ? Promise.reject(new Error(out)) : undefined), 90_000);
  return child;
}

jest.setTimeout(300_000);

test('issue 10 patch stall: the worker running the chunk is SIGKILLed mid-dossier, the other worker finishes within 30 s of it; no patch twice, ledger 0 -> 3 applied {1,2,3}', async () => {
  const pool = stack.pools.get('main');
  const codes = await demoDossiers(stack, 10);
  await openWindow(pool);
  // under the backup folder: the folder every worker host shares
  const dir = path.join(stack.config.backupDir, 'patches', 'crash');
  fs.mkdirSync(dir, { recursive: true });
  // each patch takes ~0.4 s in each dossier: a dossier is ~1.2 s of work, the kill lands inside one
  await blockablePatches(dir, [1, 2, 3], () => 'SELECT pg_sleep(0.4);\n');
  const workers = [await startWorker(), await startWorker()];
  const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir, tuning: { chunkSize: 4, concurrency: 1 } });
  const done = async () => (await pool.query(`SELECT count(*)::int AS n FROM nightshift.patch_run_item WHERE status <> 'pending'`)).rows[0].n as number;
  await waitFor(
    'a few dossiers patched',
    async () => {
      if ((await done()) >= 3) return true;
      const d = await handle.describe();
      // a run that ended already says why
      if (d.status.name !== 'RUNNING') await handle.result();
      return undefined;
    },
    120_000,
  );
  // the worker that holds the chunk: the pending activity's last worker identity is "pid@host"
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  const identity = pending.find((a) => a.activityType?.name === 'applyPatchChunk')?.lastWorkerIdentity ?? '';
  const busy = workers.find((w) => identity.startsWith(`${w.pid}@`));
  expect(busy).toBeDefined();
  const idle = workers.find((w) => w !== busy)!;
  const killedAt = Date.now();
  busy!.kill('SIGKILL');
  await new Promise((r) => busy!.once('exit', r));
  const before = await done();
  await waitFor('the next dossier done after the kill', async () => ((await done()) > before ? true : undefined), 180_000);
  const stall = (Date.now() - killedAt) / 1000;
  console.log(`patch stall after a worker SIGKILL with another worker alive: ${stall.toFixed(1)} s (kill -> next dossier done)`);

  const result = (await handle.result()) as PatchRunResult;
  expect(result).toMatchObject({ state: 'completed' });
  const { rows } = await pool.query('SELECT code, status, from_level, to_level, applied FROM nightshift.patch_run_item ORDER BY code');
  expect(rows).toEqual(codes.map((code) => ({ code, status: 'ok', from_level: 0, to_level: 3, applied: [1, 2, 3] })));
  for (const code of codes) {
    expect((await pool.query(`SELECT n FROM ${qualified(schemaNameFor(code), 'applylog')} ORDER BY n`)).rows.map((r) => r.n)).toEqual([1, 2, 3]);
  }
  expect(stall).toBeLessThan(30);
  idle.kill('SIGTERM');
  await new Promise((r) => idle.once('exit', r));
});
