import fs from 'node:fs';
import path from 'node:path';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { partialPatchResult, type PatchRunResult } from '../../workflows/patch-integration.api';
import { waitFor } from './backup-batch-helpers';
import { chunkHolder, crashHarness, kill } from './crash-harness';
import { blockablePatches, demoDossiers, openWindow, startRun } from './patch-helpers';

/**
 * Issue 10 on a patch run: two real worker processes on one task queue, the one running the chunk is
 * SIGKILLed mid-dossier. The other takes the chunk over after the heartbeat timeout; every patch is applied
 * once per dossier, and the run's ledger still says 0 -> 3, applied {1, 2, 3} for every dossier.
 */

const crash = crashHarness('backup-batch-worker.ts');

jest.setTimeout(300_000);

/**
 * Two worker processes, a patch run on them; once three dossiers are done, the worker holding the chunk is SIGKILLed
 * (the pending activity's last worker identity is "pid@host"). The other worker is left to finish the run.
 */
async function killChunkHolderMidRun(input: Parameters<typeof startRun>[2]) {
  const { stack, temporal } = crash;
  const pool = stack.pools.get('main');
  const workers = [await crash.startWorker(), await crash.startWorker()];
  const handle = await startRun(temporal.client, stack, input);
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
  const { busy, idle } = await chunkHolder(handle, 'applyPatchChunk', workers);
  expect(busy).toBeDefined();
  const killedAt = Date.now();
  await kill(busy!);
  return { handle, idle, done, killedAt };
}

test('issue 10 patch stall: the worker running the chunk is SIGKILLed mid-dossier, the other worker finishes within 30 s of it; no patch twice, ledger 0 -> 3 applied {1,2,3}', async () => {
  const { stack } = crash;
  const pool = stack.pools.get('main');
  const codes = await demoDossiers(stack, 10);
  await openWindow(pool);
  // under the backup folder: the folder every worker host shares
  const dir = path.join(stack.config.backupDir, 'patches', 'crash');
  fs.mkdirSync(dir, { recursive: true });
  // each patch takes ~0.4 s in each dossier: a dossier is ~1.2 s of work, the kill lands inside one
  await blockablePatches(dir, [1, 2, 3], () => 'SELECT pg_sleep(0.4);\n');
  const { handle, idle, done, killedAt } = await killChunkHolderMidRun({ mode: 'integrate', dir, tuning: { chunkSize: 4, concurrency: 1 } });
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
  await kill(idle, 'SIGTERM');
});

test('AWS SSM MaxErrors with a worker SIGKILLed mid-run: --max-failures 1 still stops at the second failure, each dossier patched once, those not started untouched', async () => {
  const { stack } = crash;
  const pool = stack.pools.get('main');
  // after the test above (its 10 dossiers at patch 3, its window), or alone (-t)
  if (!(await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.dossier')).rows[0]!.n) {
    await demoDossiers(stack, 10);
    await openWindow(pool);
  }
  await pool.query('DELETE FROM nightshift.patch_run_item');
  await pool.query(`UPDATE nightshift.patch_run SET state = 'completed' WHERE state = 'running'`);
  const top = (await pool.query<{ n: number }>('SELECT max(patch_level)::int AS n FROM nightshift.dossier')).rows[0]!.n;
  const codes = (await pool.query<{ code: string }>('SELECT code FROM nightshift.dossier ORDER BY code')).rows.map((r) => r.code);
  const levelsBefore = Object.fromEntries((await pool.query<{ code: string; patch_level: number }>('SELECT code, patch_level FROM nightshift.dossier')).rows.map((r) => [r.code, r.patch_level]));
  const dir = path.join(stack.config.backupDir, 'patches', 'crash-max-failures');
  fs.mkdirSync(dir, { recursive: true });
  await blockablePatches(dir, [top + 1, top + 2, top + 3], () => 'SELECT pg_sleep(0.4);\n');
  // the first of them fails in the 3rd and the 6th of the others: chunks of 4 in code order, the second chunk stops at
  // its second dossier (the run's second failure): its last two and the third chunk are not started
  const others = codes.filter((c) => c !== codes[0]);
  const blocked = [others[2]!, others[5]!];
  for (const code of blocked) await pool.query(`CREATE TABLE ${qualified(schemaNameFor(code), 'blocker')} (x int)`);
  const { handle, idle } = await killChunkHolderMidRun({ mode: 'integrate', dir, maxFailures: { count: 1 }, tuning: { chunkSize: 4, concurrency: 1 } });
  const failed = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  const r = partialPatchResult(failed)!;
  expect(r).toMatchObject({ state: 'partial', failuresTotal: 2, stopped: { failed: 2, limit: 1, maxFailures: '1', notStarted: 3 } });
  expect(r.failures.map((f) => f.code)).toEqual(blocked);
  // the supervisor and the first six others have a row each; the last three none, and their level as it was
  const { rows } = await pool.query<{ code: string; status: string }>('SELECT code, status FROM nightshift.patch_run_item ORDER BY code');
  expect(rows).toEqual([codes[0]!, ...others.slice(0, 6)].map((code) => ({ code, status: blocked.includes(code) ? 'failed' : 'ok' })));
  for (const code of others.slice(6)) {
    expect((await pool.query<{ patch_level: number }>('SELECT patch_level FROM nightshift.dossier WHERE code = $1', [code])).rows[0]!.patch_level).toBe(levelsBefore[code]);
  }
  // no patch applied twice anywhere (the killed attempt's dossier included)
  for (const code of codes) {
    const ns = (await pool.query<{ n: number }>(`SELECT n FROM ${qualified(schemaNameFor(code), 'applylog')} ORDER BY n`)).rows.map((x) => x.n);
    expect({ code, twice: ns.filter((n, i) => ns.indexOf(n) !== i) }).toEqual({ code, twice: [] });
  }
  await kill(idle, 'SIGTERM');
});
