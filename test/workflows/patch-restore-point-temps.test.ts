import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { createPatchActivities } from '../../activities/patch';
import { sweepRestorePointTemps } from '../../activities/patch/restore-point';
import { archiveTempName } from '../../domain/dossier';
import { parseRestorePointTempName, restorePointTempName } from '../../domain/restore-point-temp';
import { generateDemoDossiers } from '../../registry/demo';
import { insertRun } from '../../store/patch/insert-run';
import type { PatchRunResult } from '../../workflows/patch-integration.api';
import { createTestStack, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { freePort, waitFor } from './backup-batch-helpers';
import { blockablePatches, openWindow, startRun } from './patch-helpers';

/**
 * R-PI-11: a restore point's temporary archive, left half-written by a worker killed while it took it, is removed once
 * its patch run is closed (the run's end: its own, and those of runs closed as abandoned), never while its run runs
 * and never another writer's (a batch's, a single backup's). Tester B: `.BBIG0001.SVG.<random>.tmp` (11.5 MB) stayed
 * after three restarts and the run's successful end.
 */

jest.setTimeout(300_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
const children: ChildProcess[] = [];
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await temporal?.close();
});

async function startWorkerProcess(stack: TestStack): Promise<ChildProcess> {
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

const restorePointTemps = (dir: string) => fs.readdirSync(dir).filter((n) => parseRestorePointTempName(n) !== undefined);

test('R-PI-11: the only worker SIGKILLed while it writes a restore point; the run ends completed when a worker returns, and the half-written archive is gone', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    // big enough that a restore point's archive takes a while to write: the kill lands while its temporary file is there
    const codes = await generateDemoDossiers(pool, { target: 'main', count: 4, sizeKb: 4000 });
    await openWindow(pool);
    const dir = path.join(stack.config.backupDir, 'patches', 'temps');
    fs.mkdirSync(dir, { recursive: true });
    await blockablePatches(dir, [1]);
    const first = await startWorkerProcess(stack);
    const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir, restorePoints: true, tuning: { chunkSize: 2, concurrency: 1 } });
    // a regular dossier's restore point being written (the supervisor's goes first, alone)
    let left: string | undefined;
    for (const end = Date.now() + 120_000; !left && Date.now() < end; await new Promise((r) => setTimeout(r, 5))) {
      left = restorePointTemps(stack.config.backupDir).find((n) => parseRestorePointTempName(n)!.code !== 'DEMO0001');
    }
    if (!left) throw new Error('timed out waiting for a restore point being written');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const killedRun = parseRestorePointTempName(left)!.patchRunId;
    // what the killed worker left: its run's, named so
    expect(fs.existsSync(path.join(stack.config.backupDir, left))).toBe(true);

    const second = await startWorkerProcess(stack);
    const result = (await handle.result()) as PatchRunResult;
    expect(result).toMatchObject({ runId: killedRun, state: 'completed', done: codes.length, failed: 0, restorePoints: { taken: codes.length, failed: 0 } });
    expect(restorePointTemps(stack.config.backupDir)).toEqual([]);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  } finally {
    await stack.close();
  }
});

test('R-PI-11: the sweep takes only restore points of closed patch runs: a running run\'s (a live writer), a batch\'s and a single backup\'s stay', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    const folder = stack.config.backupDir;
    fs.mkdirSync(folder, { recursive: true });
    const run = (name: string) => insertRun(pool, { workflowId: `patch/main/${name}-${crypto.randomUUID()}`, mode: 'integrate', ok: true, prerequisites: [], error: null });
    const patch = createPatchActivities({ config: stack.config, pools: stack.pools });
    const touch = (name: string) => {
      fs.writeFileSync(path.join(folder, name), 'half an archive');
      return name;
    };
    const random = () => crypto.randomBytes(6).toString('hex');

    // a run its workflow left (closed later as abandoned, or ended without this sweep): its temporary file is a killed worker's
    const closedRun = await run('closed');
    const killed = touch(restorePointTempName('DEMO0002', random(), closedRun));
    await patch.finishPatchRun({ target: 'main', runId: closedRun, error: 'abandoned', notes: [] });
    expect(fs.existsSync(path.join(folder, killed))).toBe(false);

    const closedEarlier = await run('earlier');
    await pool.query(`UPDATE nightshift.patch_run SET state = 'failed', finished_at = now() WHERE id = $1`, [closedEarlier]);
    const running = await run('running');
    const others = [
      touch(restorePointTempName('DEMO0003', random(), running)),
      touch(archiveTempName('DEMO0003', random(), 7)),
      touch(archiveTempName('DEMO0003', random())),
      // a patch run this ledger does not have: not known closed
      touch(restorePointTempName('DEMO0004', random(), running + 1000)),
    ];
    const earlier = touch(restorePointTempName('DEMO0005', random(), closedEarlier));
    expect(await sweepRestorePointTemps({ config: stack.config, pool, target: 'main' })).toEqual([path.join(folder, earlier)]);
    expect(fs.readdirSync(folder).filter((n) => n.endsWith('.tmp')).sort()).toEqual([...others].sort());

    // the running run's end: its own go too
    await patch.finishPatchRun({ target: 'main', runId: running, notes: [] });
    expect(fs.existsSync(path.join(folder, others[0]!))).toBe(false);
    expect(fs.readdirSync(folder).filter((n) => n.endsWith('.tmp')).sort()).toEqual(others.slice(1).sort());
  } finally {
    await stack.close();
  }
});
