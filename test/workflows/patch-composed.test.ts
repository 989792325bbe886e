import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateDemoPatches } from '../../patches/demo';
import { qualified } from '../../db/ident';
import type { MaintenanceWindowInput, MaintenanceWindowResult } from '../../workflows/maintenance-window.api';
import { startMaintenanceWindow } from '../../starts';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, requireEnv, tempDir, type TestStack } from '../helpers/env';
import { blockablePatches, demoDossiers, levels, markAllBackedUp, modifiedSinceBackup, openWindow, startRun } from './patch-helpers';

/** Patch integration composed with the maintenance window, and a worker killed mid-run (dev server, real time). */

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');
let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

test('R-MW-9 R-BK-10: deployment window -> patch payload -> restore: every patched dossier is modified since its backup', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 6);
    const dir = tempDir('patches');
    await generateDemoPatches(dir, 4);
    await markAllBackedUp(pool);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const start = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    const input: MaintenanceWindowInput = {
      target: 'main',
      type: 'deployment',
      startsAt: new Date(start).toISOString(),
      endsAt: new Date(start + 30 * 60_000).toISOString(),
      payload: { kind: 'patch', manifest: dir },
      graceSeconds: 0,
      startWhenDrained: true,
      dbDrain: false,
      notify: [],
    };
    const result = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: 'patch window' });
      return (await h.result()) as MaintenanceWindowResult;
    });
    expect(result.status.state).toBe('completed');
    expect(result.status.phases.map((p) => p.phase)).toEqual(expect.arrayContaining(['working', 'checking', 'restoring', 'completed']));
    expect(Object.values(await levels(pool))).toEqual(Array(6).fill(4));
    // the next backup run (issue 4) selects modified dossiers: every patched one is
    expect(Object.values(await modifiedSinceBackup(pool))).toEqual(Array(6).fill(true));
    const run = (await pool.query(`SELECT state, window_workflow FROM nightshift.patch_run`)).rows;
    expect(run).toEqual([{ state: 'completed', window_workflow: 'maintenance/main' }]);
  } finally {
    await stack.close();
  }
});

function startWorkerChild(stack: TestStack): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run-ts.js'), path.join(__dirname, 'maintenance-worker.fixture.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      NIGHTSHIFT_DATA_DIR: stack.dataDir,
      TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker child exited (${code}): ${err}`)));
  });
}

test('a worker killed (SIGKILL) mid-run: a new worker finishes, every dossier at the right level, no patch applied twice', async () => {
  const stack = await createTestStack();
  let child: ChildProcess | undefined;
  try {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 16);
    await openWindow(pool);
    const dir = tempDir('patches');
    await blockablePatches(dir, [1, 2, 3, 4, 5, 6], () => 'SELECT pg_sleep(0.03);\n');
    child = await startWorkerChild(stack);
    const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir, tuning: { chunkSize: 3, concurrency: 1, heartbeatTimeoutSeconds: 3 } });
    for (let i = 0; i < 600; i++) {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run_item');
      if (rows[0]!.n >= 4) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run_item')).rows[0]!.n;
    expect(before).toBeGreaterThanOrEqual(4);
    expect(before).toBeLessThan(codes.length);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    child = undefined;

    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const r = await worker.runUntil(handle.result());
    expect([r.state, r.total, r.done, r.failed]).toEqual(['completed', 16, 16, 0]);
    expect(Object.values(await levels(pool))).toEqual(Array(16).fill(6));
    for (const code of codes) {
      const { rows } = await pool.query<{ n: number; c: number }>(`SELECT n, count(*)::int AS c FROM ${qualified(`d_${code}`, 'applylog')} GROUP BY n ORDER BY n`);
      expect(rows).toEqual([1, 2, 3, 4, 5, 6].map((n) => ({ n, c: 1 })));
    }
  } finally {
    child?.kill('SIGKILL');
    await stack.close();
  }
});
