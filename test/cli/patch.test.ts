import fs from 'node:fs';
import path from 'node:path';
import { generateDemoPatches } from '../../activities/patch/demo';
import { createTestWorker, tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { blockablePatches, demoDossiers, levels, openWindow, startRun } from '../workflows/patch-helpers';

/** `nightshift patch integrate|status|revalidate|retry` spawned as processes against the real servers (R-PI-1 … R-PI-9). */

const ctx = useCliStack(120_000);
const cli = ctx.cli;

jest.setTimeout(180_000);


beforeAll(async () => {
  await demoDossiers(ctx.stack, 6);
  await openWindow(ctx.stack.pools.get('main'));
});


test('hostile input: stray files (R-PI-1), bad codes, bad run ids exit non-zero with a clear message and start nothing', async () => {
  const dir = tempDir('cli-stray');
  await generateDemoPatches(dir, 2);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a patch');
  const results = await Promise.all([
    cli(['patch', 'integrate', dir]),
    cli(['patch', 'integrate', dir, '--dossiers', '../etc,DEMO0001']),
    cli(['patch', 'retry', '--run', '1; DROP TABLE nightshift.patch_run']),
    cli(['patch', 'revalidate', "DEMO'0001"]),
    cli(['patch', 'status', '--target', 'nope']),
  ]);
  // a refused directory is a failed check (exit 1, its failure type named), not a misspelt command
  expect(results[0]!.code).toBe(1);
  expect(results[0]!.stderr).toMatch(/^nightshift: PatchStrayFiles: .*notes\.txt/);
  for (const r of results.slice(1)) expect(r.code).toBe(2);
  for (const r of results) {
    expect(r.stderr).toMatch(/^nightshift: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
  const { rows } = await ctx.stack.pools.get('main').query('SELECT count(*)::int AS n FROM nightshift.patch_run');
  expect(rows[0].n).toBe(0);
});

test('integrate --wait, status, then a run left running by a terminated workflow is closed as abandoned and the next run finishes the work', async () => {
  const pool = ctx.stack.pools.get('main');
  const dir = tempDir('cli-patches');
  await generateDemoPatches(dir, 4);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const run = await cli(['patch', 'integrate', dir, '--wait', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).result).toMatchObject({ state: 'completed', total: 6, done: 6, failed: 0, supervisorLevel: 4 });
    const status = await cli(['patch', 'status', '--json']);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s).toMatchObject({ supervisorLevel: 4, toRevalidateCount: 0 });
    expect(s.dossiers.map((d: { level: number }) => d.level)).toEqual([4, 4, 4, 4, 4, 4]);
    const text = await cli(['patch', 'status']);
    expect(text.stdout).toMatch(/^target main: supervisor at level 4$/m);
    expect(text.stdout).toMatch(/^no dossier to revalidate$/m);

    // patch 5 holds each dossier for a second: the run is terminated by hand half-way
    const slow = tempDir('cli-slow');
    await blockablePatches(slow, [5], () => 'SELECT pg_sleep(1);\n');
    const handle = await startRun(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir: slow });
    await waitUntil(async () => Object.values(await levels(pool)).some((l) => l === 5));
    await handle.terminate('operator stops it');
    const { rows: stale } = await pool.query(`SELECT id FROM nightshift.patch_run WHERE state = 'running'`);
    expect(stale).toHaveLength(1);

    // R-PI-2 would refuse the next run while that row is 'running': the CLI closes it, naming it
    const next = await cli(['patch', 'integrate', slow, '--wait', '--json']);
    expect(next.stderr).toContain(`closed patch run ${stale[0].id} (${handle.workflowId}): its workflow is terminated`);
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout).result).toMatchObject({ state: 'completed', failed: 0 });
    const { rows: old } = await pool.query('SELECT state, error FROM nightshift.patch_run WHERE id = $1', [stale[0].id]);
    expect(old[0]).toMatchObject({ state: 'failed', error: 'abandoned: its workflow is terminated' });
    // every dossier at 5, patch 5 applied once in each (applylog counts applications)
    expect(Object.values(await levels(pool))).toEqual([5, 5, 5, 5, 5, 5]);
    for (const code of Object.keys(await levels(pool))) {
      const { rows } = await pool.query(`SELECT n FROM "d_${code}".applylog`);
      expect(rows).toEqual([{ n: 5 }]);
    }
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
