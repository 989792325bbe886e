import fs from 'node:fs';
import path from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { partialPatchResult, type PatchRunResult } from '../../workflows/patch-integration.api';
import type { RollbackRunResult } from '../../workflows/patch-rollback.api';
import { createTestStack, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { freePort, waitFor } from './backup-batch-helpers';
import { demoDossiers, openWindow, startRun } from './patch-helpers';
import { block, halfWayPatches, rollbackLedger, startRollback, statesOf } from './patch-rollback-helpers';

/**
 * R-PI-11 with a worker SIGKILLed during a rollback: two real worker processes on one task queue; the
 * restore of one dossier is held at its very end (its data in, its ledger row not yet committed) by a row
 * lock the test holds, the worker running it is killed there. The other worker takes the chunk over after
 * the heartbeat timeout: the rollback completes, every dossier restored exactly once and equal to its
 * pre-patch state.
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

test('R-PI-11 R-PI-8: a worker SIGKILLed while a dossier is restored (data in, not committed) -> the other worker finishes the rollback; each dossier restored exactly once, equal to its pre-patch state', async () => {
  const pool = stack.pools.get('main');
  const codes = await demoDossiers(stack, 6);
  await openWindow(pool);
  // under the backup folder: the folder every worker host shares
  const dir = path.join(stack.config.backupDir, 'patches', 'rollback-crash');
  fs.mkdirSync(dir, { recursive: true });
  await halfWayPatches(dir);
  await block(pool, ['DEMO0005']);
  const before = await statesOf(pool, codes);
  const workers = [await startWorker(), await startWorker()];

  const patch = await startRun(temporal.client, stack, { mode: 'integrate', dir, restorePoints: true });
  const run = (await patch.result().catch((err: unknown) => partialPatchResult(err) ?? Promise.reject(err))) as PatchRunResult;
  expect(run).toMatchObject({ state: 'partial', failuresTotal: 1 });

  // the test holds DEMO0002's patch-run item: the restore of DEMO0002 waits there, inside its transaction, everything else done
  const holder = await pool.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM nightshift.patch_run_item WHERE run_id = $1 AND code = 'DEMO0002' FOR UPDATE`, [run.runId]);
    const handle = await startRollback(temporal.client, stack, { patchRun: run.runId!, tuning: { chunkSize: 3, concurrency: 1 } });
    await waitFor(
      "DEMO0002's restore waiting at its commit",
      async () => {
        const { rows } = await pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE nightshift.patch_rollback_item%'`);
        if (rows.length) return true;
        const d = await handle.describe();
        if (d.status.name !== 'RUNNING') await handle.result();
        return undefined;
      },
      120_000,
    );
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    const identity = pending.find((a) => a.activityType?.name === 'rollbackChunk')?.lastWorkerIdentity ?? '';
    const busy = workers.find((w) => identity.startsWith(`${w.pid}@`));
    expect(busy).toBeDefined();
    const idle = workers.find((w) => w !== busy)!;
    busy!.kill('SIGKILL');
    await new Promise((r) => busy!.once('exit', r));
    await holder.query('ROLLBACK');
    holder.release();

    const result = (await handle.result()) as RollbackRunResult;
    expect(result).toMatchObject({ state: 'completed', total: 6, restored: 6, failuresTotal: 0 });
    expect(await rollbackLedger(pool)).toEqual({ restored: Object.fromEntries(codes.map((c) => [c, 1])), markedRolledBack: codes });
    expect(await statesOf(pool, codes)).toEqual(before);
    idle.kill('SIGTERM');
    await new Promise((r) => idle.once('exit', r));
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
  }
});
