import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { generateDemoPatches } from '../../patches/demo';
import { failureTypeOf } from '../../domain/failures';
import { PatchFailure } from '../../workflows/patch-integration.api';
import { createTestWorker, tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { blockablePatches, closeWindows, demoDossiers, levels, openWindow, runPatch, startRun } from '../workflows/patch-helpers';

/** `nightshift patch integrate|status|revalidate|retry` spawned as processes against the real servers (R-PI-1 … R-PI-9). */

const ctx = useCliStack(120_000);
const cli = ctx.cli;

jest.setTimeout(180_000);


beforeAll(async () => {
  await demoDossiers(ctx.stack, 6);
  await openWindow(ctx.stack.pools.get('main'));
});

/** A run's set-up: a window of its own (the earlier ones closed), a fresh folder for its packages, the dossiers' highest patch level now. */
async function freshRunSetUp(folder: string): Promise<{ pool: pg.Pool; dir: string; top: number }> {
  const pool = ctx.stack.pools.get('main');
  await closeWindows(pool);
  await openWindow(pool);
  const dir = tempDir(folder);
  const top = (await pool.query<{ n: number }>('SELECT max(patch_level)::int AS n FROM nightshift.dossier')).rows[0]!.n;
  return { pool, dir, top };
}


test('hostile input: stray files (R-PI-1), bad codes, bad run ids exit non-zero with a clear message and start nothing', async () => {
  const dir = tempDir('cli-stray');
  await generateDemoPatches(dir, 2);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a patch');
  const good = tempDir('cli-good');
  await generateDemoPatches(good, 2);
  const results = await Promise.all([
    cli(['patch', 'integrate', dir]),
    cli(['patch', 'integrate', dir, '--dossiers', '../etc,DEMO0001']),
    cli(['patch', 'retry', '--run', '1; DROP TABLE nightshift.patch_run']),
    cli(['patch', 'revalidate', "DEMO'0001"]),
    cli(['patch', 'status', '--target', 'nope']),
    // R-PI-3: unknown codes (one in the wrong case) and a missing folder beside real ones: refused before any start
    cli(['patch', 'integrate', good, '--dossiers', 'DEMO0001,NOPE99,demo0002']),
    cli(['patch', 'integrate', path.join(path.dirname(good), 'no-such-patches')]),
    // a run number that is no run: said before anything starts (it used to start a run that failed)
    cli(['patch', 'retry', '--run', '999999']),
    // revalidate as integrate --dossiers: unknown codes refused before anything starts (it said "prerequisites met")
    cli(['patch', 'revalidate', 'NOPE99', 'demo0002']),
    // a package's manifest, or one package's folder, given for the directory (drill A, session 35: a raw ENOTDIR, exit 1)
    cli(['patch', 'integrate', path.join(good, 'P0001', 'patch.json')]),
    cli(['patch', 'integrate', path.join(good, 'P0001')]),
  ]);
  expect(results[9]!.stderr).toBe(`nightshift: ${path.join(good, 'P0001', 'patch.json')} is a file, not a directory of patch packages (a package's manifest: give the directory holding its package, ${good}): nothing started\n`);
  expect(results[10]!.stderr).toBe(`nightshift: ${path.join(good, 'P0001')} is one patch package (it holds patch.json): give the directory holding the packages, ${good}: nothing started\n`);
  expect(results[8]!.stderr).toBe("nightshift: not dossiers of target main: NOPE99, demo0002 (codes are case-sensitive: DEMO0002?); nothing started (see 'nightshift dossiers list')\n");
  expect(results[7]!.stderr).toBe("nightshift: no patch run 999999 on main: nothing started (see 'nightshift patch status')\n");
  expect(results[5]!.stderr).toBe("nightshift: --dossiers: not dossiers of target main: NOPE99, demo0002 (codes are case-sensitive: DEMO0002?); nothing started (see 'nightshift dossiers list')\n");
  expect(results[6]!.stderr).toMatch(/^nightshift: no patch directory .*no-such-patches \(its folder .* is here, without it\): nothing started\n$/);
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

test('AWS SSM MaxErrors: a --max-failures that is no count nor percentage exits 2 on integrate, revalidate and retry, and starts nothing', async () => {
  const good = tempDir('cli-max-failures');
  await generateDemoPatches(good, 2);
  const runs = async () => (await ctx.stack.pools.get('main').query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0]!.n;
  const before = await runs();
  const results = await Promise.all([
    cli(['patch', 'integrate', good, '--max-failures', 'many']),
    cli(['patch', 'integrate', good, '--max-failures', '101%']),
    cli(['patch', 'revalidate', '--max-failures', '1e3']),
    cli(['patch', 'retry', '--max-failures', '5 %']),
  ]);
  for (const r of results) {
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe('nightshift: --max-failures: expected a number of dossiers (such as 10) or a percentage of them (such as 5%)\n');
  }
  expect(await runs()).toBe(before);
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

    // `patch status` shows it as it is, not as running: closed, named (as the next run would)
    const shown = await cli(['patch', 'status']);
    expect(shown.stderr).toContain(`closed patch run ${stale[0].id} (${handle.workflowId}): its workflow is terminated`);
    expect(shown.stdout).toMatch(new RegExp(`^run ${stale[0].id} \\S+: integrate failed .*\\(abandoned: its workflow is terminated\\)`, 'm'));
    // the next run goes (R-PI-2 would have refused it while that row was 'running')
    const next = await cli(['patch', 'integrate', slow, '--wait', '--json']);
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

    // what `patch plan` refuses at once is refused before anything starts (the run stored the packages, then failed)
    const runCount = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0]!.n;
    const before = await runCount();
    const gap = tempDir('cli-gap');
    await generateDemoPatches(gap, 1, 7);
    const gapped = await cli(['patch', 'integrate', gap]);
    expect(gapped.code).toBe(1);
    expect(gapped.stderr).toMatch(/^nightshift: PatchGap: the supervisor would fail first, and the run end before any other dossier: dossier DEMO0001 is at patch level 5: patch 6 is missing before patch 7 \(R-PI-8\); nothing started \(see 'nightshift patch plan .*cli-gap.*'\)\n$/);
    const drift = tempDir('cli-drift');
    await blockablePatches(drift, [5], () => 'SELECT 2;\n');
    const drifted = await cli(['patch', 'integrate', drift]);
    expect(drifted.code).toBe(1);
    // the rule once (drill M: "refused (R-PI-8) (R-PI-8)")
    expect(drifted.stderr).toMatch(/^nightshift: ChecksumDrift: patch 5 was already integrated on this target with checksum [^()]*\(from [^)]*; dossier DEMO\d+ holds it\); this package has [0-9a-f]{12}…: refused \(R-PI-8\); nothing started/);
    expect(await runCount()).toBe(before);
    expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.patch_package WHERE number = 7')).rows[0].n).toBe(0);
    // a window with that folder as its payload is refused as well, before it is scheduled (drill A, session 35: it cut
    // service, then its run refused the package, and the target stayed closed until reopen)
    const windows = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.maintenance_window')).rows[0]!.n;
    const windowsBefore = await windows();
    const start = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 16);
    const scheduled = await cli(['maintenance', 'schedule', '--start', start, '--duration', '45m', '--type', 'deployment', '--payload', 'patch', '--patch-dir', drift, '--yes']);
    expect(scheduled.code).toBe(1);
    expect(scheduled.stderr).toMatch(/^nightshift: ChecksumDrift: patch 5 was already integrated on this target .*: refused \(R-PI-8\); nothing scheduled \(see 'nightshift patch plan .*cli-drift.*'\); .*'nightshift patch repair /);
    expect(await windows()).toBe(windowsBefore);
  });
});

test('R-PI-2: integrate refused (no window, a backup batch running) exits 1 with each reason on its own line, with or without --wait, and starts nothing; with a window it prints "started"', async () => {
  const pool = ctx.stack.pools.get('main');
  const dir = tempDir('cli-refused');
  const top = (await pool.query<{ n: number }>('SELECT max(patch_level)::int AS n FROM nightshift.dossier')).rows[0]!.n;
  await blockablePatches(dir, [top + 1]);
  const runs = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0]!.n;
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const before = await runs();
    const since = new Date();
    await closeWindows(pool);
    await pool.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings) VALUES ('backup/main/cli-refused', 'run', '{}')`);
    try {
      for (const wait of [[], ['--wait']]) {
        const r = await cli(['patch', 'integrate', dir, ...wait]);
        expect(r.code).toBe(1);
        expect(r.stdout).not.toMatch(/started/);
        expect(r.stderr).toMatch(/^nightshift: PatchPrerequisiteFailed: patch run refused on main \(R-PI-2\), nothing started:$/m);
        expect(r.stderr).toMatch(/^ {2}no backup batch: backup batch backup\/main\/cli-refused is running on main$/m);
        expect(r.stderr).toMatch(/^ {2}maintenance window in progress: no maintenance window is in progress on main: /m);
        expect(r.stderr).not.toMatch(/supervisor dossier|no other patch run/);
      }
      // no workflow was started: no run was claimed (a worker is running) and none is listed
      await new Promise((res) => setTimeout(res, 1_000));
      expect(await runs()).toBe(before);
      const listed: string[] = [];
      for await (const w of ctx.temporal.client.workflow.list({ query: `WorkflowType = 'patchIntegrationWorkflow' AND StartTime >= '${since.toISOString()}'` })) listed.push(w.workflowId);
      expect(listed).toEqual([]);
    } finally {
      await pool.query(`DELETE FROM nightshift.backup_run WHERE workflow_id = 'backup/main/cli-refused'`);
    }

    // R-PI-2 single-user mode: a window still closing its sessions (users may be in) is not one yet
    const closingId = await openWindow(pool);
    await pool.query(`UPDATE nightshift.maintenance_window SET phase = 'draining' WHERE id = $1`, [closingId]);
    const early = await cli(['patch', 'integrate', dir]);
    expect(early.code).toBe(1);
    expect(early.stdout).not.toMatch(/started/);
    expect(early.stderr).toMatch(/^ {2}maintenance window in progress: window maintenance\/test-\S+ is in progress on main but still closing its sessions \(phase draining\): users may still be in; run again once it reaches phase working/m);
    expect(await runs()).toBe(before);
    await pool.query(`UPDATE nightshift.maintenance_window SET phase = 'working' WHERE id = $1`, [closingId]);

    const ok = await cli(['patch', 'integrate', dir]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^prerequisites met \(R-PI-2\)$/m);
    const id = /^started (patch\/main\/\S+)$/m.exec(ok.stdout)?.[1];
    expect(id).toBeDefined();
    const result = await ctx.temporal.client.workflow.getHandle(id!).result();
    expect(result).toMatchObject({ state: 'completed', failed: 0 });
    expect(await runs()).toBe(before + 1);
  });
});

test('R-PI-2: a start that passes the check but is refused by the claim a moment later (the window closed in between) exits 1 with the reasons, without --wait', async () => {
  const pool = ctx.stack.pools.get('main');
  const dir = tempDir('cli-raced');
  const top = (await pool.query<{ n: number }>('SELECT max(patch_level)::int AS n FROM nightshift.dossier')).rows[0]!.n;
  await blockablePatches(dir, [top + 1]);
  await closeWindows(pool);
  await openWindow(pool);
  const since = new Date();
  // the worker is made first and runs only once the window is closed: the claim sees what the CLI did not
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  const run = cli(['patch', 'integrate', dir]);
  let id: string | undefined;
  await waitUntil(async () => {
    for await (const w of ctx.temporal.client.workflow.list({ query: `WorkflowType = 'patchIntegrationWorkflow' AND StartTime >= '${since.toISOString()}'` })) id = w.workflowId;
    return id !== undefined;
  });
  await closeWindows(pool);
  const r = await worker.runUntil(run);
  expect(r.code).toBe(1);
  expect(r.stdout).not.toMatch(/started/);
  expect(r.stderr).toMatch(new RegExp(`^nightshift: PatchPrerequisiteFailed: patch run refused on main \\(R-PI-2\\), the run ${id} ended at once and changed nothing:$`, 'm'));
  expect(r.stderr).toMatch(/^ {2}maintenance window in progress: no maintenance window is in progress on main: /m);
  const { rows } = await pool.query('SELECT state FROM nightshift.patch_run WHERE workflow_id = $1', [id]);
  expect(rows).toEqual([{ state: 'failed' }]);
  expect((await levels(pool)).DEMO0001).toBe(top);
  await openWindow(pool);
});

test('issue 12: integrate --wait with a failed dossier exits 1 with CODE: reason and the retry command; status repeats it; retry --wait after the fix exits 0', async () => {
  const { pool, dir, top } = await freshRunSetUp('cli-partial');
  await blockablePatches(dir, [top + 1]);
  await pool.query(`CREATE TABLE "d_DEMO0003".blocker (x int)`);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const r = await cli(['patch', 'integrate', dir, '--wait']);
    expect(r.code).toBe(1);
    const runId = (await pool.query<{ id: string }>(`SELECT id FROM nightshift.patch_run ORDER BY id DESC LIMIT 1`)).rows[0]!.id;
    const retry = `nightshift patch retry --target main --run ${runId}`;
    expect(r.stdout).toMatch(new RegExp(`^patch integrate on main \\(run ${runId}\\): partial$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^ {2}DEMO0003: patch ${top + 1} failed in dossier DEMO0003 \\(data\\.sql\\): blocker present$`, 'm'));
    // the advice `patch status --run N` gives (the package applied elsewhere), not "fix the package" beside it;
    // the failed dossier is not offered a revalidation too (it needs the fix and the retry)
    expect(r.stdout).toContain(`retry them: ${retry}\nno package at fault (the patch that failed is applied in other dossiers, or no patch failed): the cause is in the failed dossiers (fix them, then retry)\n`);
    expect(r.stdout).not.toContain('a package at fault');
    expect(r.stdout).not.toMatch(/nightshift patch revalidate .*DEMO0003/);
    const status = await cli(['patch', 'status']);
    expect(status.stdout).toContain(`retry them: ${retry}`);
    // the package is applied in the other dossiers: the advice is about the failed one, not "fix the package, reseal it"
    expect(status.stdout).toContain('no package at fault (the patch that failed is applied in other dossiers, or no patch failed): the cause is in the failed dossiers (fix them, then retry)');
    const json = JSON.parse((await cli(['patch', 'status', '--json'])).stdout);
    expect(json.recentRuns[0]).toMatchObject({ id: Number(runId), state: 'partial', failed: 1, behind: 1, packageHeld: true, retryCommand: retry });
    await pool.query(`DROP TABLE "d_DEMO0003".blocker`);
    // outside a window a retry is refused before it starts (R-PI-2), as integrate is
    await closeWindows(pool);
    const runs = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0]!.n;
    const before = await runs();
    const outside = await cli(['patch', 'retry', '--run', runId]);
    expect(outside.code).toBe(1);
    expect(outside.stdout).not.toMatch(/started/);
    expect(outside.stderr).toMatch(/^nightshift: PatchPrerequisiteFailed: patch run refused on main \(R-PI-2\), nothing started:$/m);
    expect(await runs()).toBe(before);
    await openWindow(pool);
    const again = await cli(['patch', 'retry', '--run', runId, '--wait', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).result).toMatchObject({ state: 'completed', total: 1, failed: 0, failures: [], failuresTotal: 0 });
    // R-OP-1: the Web UI's list names the run it retries, as the backup retry's does
    const summary = await (await ctx.temporal.client.workflow.getHandle(JSON.parse(again.stdout).workflowId).describe()).staticSummary();
    expect(summary).toBe(`Patch retry of the failed dossiers of run ${runId} on main`);
    // the retry itself had no failure: nothing to retry of it, nothing started
    const retryRun = (await pool.query<{ id: string }>(`SELECT id FROM nightshift.patch_run ORDER BY id DESC LIMIT 1`)).rows[0]!.id;
    const none = await cli(['patch', 'retry', '--run', retryRun]);
    expect(none).toMatchObject({ code: 0, stdout: `patch run ${retryRun} has no failed dossier: nothing to retry\n`, stderr: '' });
    expect(await runs()).toBe(before + 1);
    // the failed dossier brought up since: status no longer advises a retry of that run
    const after = await cli(['patch', 'status']);
    expect(after.stdout).toMatch(new RegExp(`^run ${runId} \\S+: integrate partial patch ${top + 1}, 1 failed \\(brought up since\\)$`, 'm'));
    expect(after.stdout).not.toContain(`retry them: ${retry}`);
    // tester B (run 25): a retry of it now leaves its failed dossier out, says why, and starts nothing (exit 0), as `backup retry`
    const broughtUp = await cli(['patch', 'retry', '--run', runId]);
    expect(broughtUp).toMatchObject({
      code: 0,
      stderr: '',
      stdout:
        `patch run ${runId}: none of its 1 failed dossier(s) needs a retry: nothing to retry, nothing started\n` +
        `  DEMO0003: brought up since by patch run ${retryRun}: at level ${top + 1}, the run's last patch ${top + 1}\n`,
    });
    expect(JSON.parse((await cli(['patch', 'retry', '--run', runId, '--json'])).stdout)).toEqual({
      runId: Number(runId),
      retried: 0,
      leftOut: [{ code: 'DEMO0003', reason: `brought up since by patch run ${retryRun}: at level ${top + 1}, the run's last patch ${top + 1}` }],
      leftOutTotal: 1,
    });
    expect(await runs()).toBe(before + 1);
  });
  expect((await levels(pool)).DEMO0003).toBe(top + 1);
});

test('tester B: patch retry leaves out the failed dossiers brought up since (patch revalidate), names them with why, and retries the others only', async () => {
  const { pool, dir, top } = await freshRunSetUp('cli-retry-left-out');
  await blockablePatches(dir, [top + 1]);
  for (const code of ['DEMO0002', 'DEMO0004']) await pool.query(`CREATE TABLE "d_${code}".blocker (x int)`);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect((await cli(['patch', 'integrate', dir, '--wait'])).code).toBe(1);
    const runId = (await pool.query<{ id: string }>(`SELECT id FROM nightshift.patch_run ORDER BY id DESC LIMIT 1`)).rows[0]!.id;
    for (const code of ['DEMO0002', 'DEMO0004']) await pool.query(`DROP TABLE "d_${code}".blocker`);
    // DEMO0002 brought up by a revalidation; DEMO0004 left to the retry
    const revalidated = await cli(['patch', 'revalidate', 'DEMO0002', '--wait', '--json']);
    expect(revalidated.code).toBe(0);
    const revalidateRun = JSON.parse(revalidated.stdout).result.runId;
    const r = await cli(['patch', 'retry', '--run', runId, '--wait']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `patch run ${runId}: 1 of its 2 failed dossier(s) need no retry, left out; retrying the other 1\n` +
        `  DEMO0002: brought up since by patch run ${revalidateRun}: at level ${top + 1}, the run's last patch ${top + 1}\n`,
    );
    expect(r.stdout).toMatch(/: completed$/m);
    const retryRun = (await pool.query<{ id: string }>(`SELECT id FROM nightshift.patch_run ORDER BY id DESC LIMIT 1`)).rows[0]!.id;
    // the retry's ledger: DEMO0004 alone (not a row for the dossier brought up since)
    expect((await pool.query(`SELECT code, status FROM nightshift.patch_run_item WHERE run_id = $1`, [retryRun])).rows).toEqual([{ code: 'DEMO0004', status: 'ok' }]);
    expect(await levels(pool)).toMatchObject({ DEMO0002: top + 1, DEMO0004: top + 1 });
  });
});

test('R-PI-4: after a rollback of its run (supervisor back below it) a retry is refused by the CLI and by the workflow; status advises integrate, not retry; status --run lists every failure (issue of 2,512 dossiers)', async () => {
  const { pool, dir, top } = await freshRunSetUp('cli-rolled-back');
  await blockablePatches(dir, [top + 1]);
  for (const c of ['DEMO0003', 'DEMO0005']) await pool.query(`CREATE TABLE "d_${c}".blocker (x int)`);
  const runs = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0]!.n;
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect((await cli(['patch', 'integrate', dir, '--wait'])).code).toBe(1);
    const runId = Number((await pool.query<{ id: string }>(`SELECT id FROM nightshift.patch_run ORDER BY id DESC LIMIT 1`)).rows[0]!.id);

    // every failed dossier of the run with its reason, text and JSON (the mail's "et N autre(s)" points here)
    const listed = await cli(['patch', 'status', '--run', String(runId)]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^failed dossiers:\n  DEMO0003: patch ${top + 1} failed in dossier DEMO0003 \\(data\\.sql\\): blocker present\n  DEMO0005: patch ${top + 1} failed .*blocker present$`, 'm'));
    const listedJson = JSON.parse((await cli(['patch', 'status', '--run', String(runId), '--json'])).stdout);
    expect(listedJson).toMatchObject({ id: runId, state: 'partial', failed: 2, failuresTotal: 2, retryCommand: `nightshift patch retry --target main --run ${runId}` });
    expect(listedJson.failures.map((f: { code: string }) => f.code)).toEqual(['DEMO0003', 'DEMO0005']);
    expect((await cli(['patch', 'status']).then((r) => r.stdout))).toContain(`every failed dossier and why: nightshift patch status --target main --run ${runId}`);
    expect(await cli(['patch', 'status', '--run', '999999'])).toMatchObject({ code: 2, stderr: "nightshift: no patch run 999999 on main (see 'nightshift patch status')\n" });

    // as `patch rollback --run N` leaves them: every dossier back at its restore point's level, the supervisor included
    await pool.query('UPDATE nightshift.dossier SET patch_level = $1', [top]);
    for (const c of Object.keys(await levels(pool))) await pool.query(`DELETE FROM "d_${c}".apatch WHERE number = $1`, [top + 1]);
    for (const c of ['DEMO0003', 'DEMO0005']) await pool.query(`DROP TABLE "d_${c}".blocker`);
    const integrate = `nightshift patch integrate ${dir} --target main`;
    const status = await cli(['patch', 'status']);
    expect(status.stdout).not.toContain('retry them:');
    expect(status.stdout).not.toContain('no package at fault');
    expect(status.stdout).toContain(
      `patch run ${runId} brings dossiers to patch ${top + 1} but the supervisor DEMO0001 is at level ${top} (rolled back since?): a retry would leave dossiers above the supervisor (R-PI-4), a retry is refused; integrate the patches again, supervisor first: ${integrate}`,
    );
    const statusJson = JSON.parse((await cli(['patch', 'status', '--json'])).stdout);
    expect(statusJson.recentRuns[0]).toMatchObject({ id: runId, behind: 2, integrateCommand: integrate });
    expect(statusJson.recentRuns[0].retryCommand).toBeUndefined();

    // as the rollback run leaves its ledger (R-PI-11): the run's line says so, and it advises nothing more (no retry, no refusal)
    const rollbackId = Number(
      (await pool.query<{ id: string }>(`INSERT INTO nightshift.patch_rollback_run (workflow_id, state, patch_run, finished_at) VALUES ('patch-rollback/main/cli-test', 'completed', $1, now()) RETURNING id`, [runId])).rows[0]!.id,
    );
    await pool.query(`UPDATE nightshift.patch_run_item SET rolled_back_at = now(), rolled_back_by = $2 WHERE run_id = $1`, [runId, rollbackId]);
    const rolled = await cli(['patch', 'status']);
    expect(rolled.stdout).toMatch(new RegExp(`^run ${runId} \\S+: integrate partial patch ${top + 1}, 2 failed, rolled back by rollback run ${rollbackId} \\(6 dossier\\(s\\)\\)\n  every failed dossier and why: `, 'm'));
    expect(rolled.stdout).not.toContain(`patch run ${runId} brings dossiers to patch`);
    expect(rolled.stdout).not.toContain('retry them:');
    expect(JSON.parse((await cli(['patch', 'status', '--run', String(runId), '--json'])).stdout)).toMatchObject({ rolledBack: { dossiers: 6, patched: 4, by: [rollbackId] } });

    // the CLI refuses before anything starts, in one line naming the supervisor's level and the command that works
    const before = await runs();
    const retry = await cli(['patch', 'retry', '--run', String(runId), '--wait']);
    expect(retry.code).toBe(1);
    expect(retry.stdout).toBe('');
    expect(retry.stderr).toBe(
      `nightshift: PatchSupervisorBehind: patch run ${runId} brings dossiers to patch ${top + 1} but the supervisor DEMO0001 is at level ${top} (rolled back since?): a retry would leave dossiers above the supervisor (R-PI-4), nothing started; integrate the patches again, supervisor first: ${integrate}\n`,
    );
    expect(await runs()).toBe(before);
    // a retry started otherwise (not through the CLI) is refused by the run itself, non-retryable, before any dossier
    const err = await startRun(ctx.temporal.client, ctx.stack, { mode: 'retry', retryOf: runId }).then((h) => h.result().then(() => undefined, (e: unknown) => e));
    expect(failureTypeOf(err)).toBe(PatchFailure.SupervisorBehind);
    expect(Object.values(await levels(pool))).toEqual(Array(6).fill(top));

    // what it advises works: the supervisor first, then the others
    const again = await cli(['patch', 'integrate', dir, '--wait', '--json']);
    expect(again.code).toBe(0);
    expect(Object.values(await levels(pool))).toEqual(Array(6).fill(top + 1));
  });
});

test('R-PI-9: while a run is running, status says so instead of advising to revalidate the dossiers it has not reached yet', async () => {
  const { pool, dir, top } = await freshRunSetUp('cli-running');
  // 2 s per dossier: three CLI calls below must see it running on a loaded machine (CI saw it end before the third)
  await blockablePatches(dir, [top + 1], () => 'SELECT pg_sleep(2);\n');
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const handle = await startRun(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir });
    await waitUntil(async () => (await levels(pool)).DEMO0001 === top + 1);
    const runId = (await pool.query<{ id: string }>(`SELECT id FROM nightshift.patch_run WHERE state = 'running'`)).rows[0]!.id;
    const status = await cli(['patch', 'status']);
    expect(status.stdout).toMatch(new RegExp(`^patch run ${runId} \\(${handle.workflowId}\\) is running: it brings dossiers up as it goes; [1-5] below the supervisor's level now, the list to revalidate \\(R-PI-9\\) is for once it has ended \\(patch status then\\)$`, 'm'));
    expect(status.stdout).not.toContain('nightshift patch revalidate');
    // its progress, as --wait and the Web UI give it (scale drill: status had no count while a run went)
    expect(status.stdout).toMatch(new RegExp(`^now: patch run ${runId}: \\d+ / 6 dossier\\(s\\), 0 failed, supervisor DEMO0001 ok \\(dossiers\\)$`, 'm'));
    expect(JSON.parse((await cli(['patch', 'status', '--json'])).stdout).runningRun).toMatchObject({ id: Number(runId), workflowId: handle.workflowId, progress: { phase: 'dossiers', total: 6 } });
    await handle.result();
    expect((await cli(['patch', 'status'])).stdout).toMatch(/^no dossier to revalidate$/m);
  });
  // a rollback at work (its row says running) holds every patch run back: status says so (re-check of drill R: a stuck
  // rollback was invisible, and status advised a retry it would refuse)
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO nightshift.patch_rollback_run (workflow_id, state, failed_only, prerequisites) VALUES ('patch-rollback/main/busy', 'running', false, '[]') RETURNING id`,
  );
  const held = await cli(['patch', 'status']);
  expect(held.stdout).toContain(`rollback run ${rows[0]!.id} (patch-rollback/main/busy) is running: no patch run starts until it has ended (R-PI-2)`);
  expect(JSON.parse((await cli(['patch', 'status', '--json'])).stdout).runningRollback).toEqual({ id: Number(rows[0]!.id), workflowId: 'patch-rollback/main/busy' });
  await pool.query(`UPDATE nightshift.patch_rollback_run SET state = 'failed', finished_at = now() WHERE id = $1`, [rows[0]!.id]);
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// drill M: `patch retry --run ID` of a run that failed as a whole said "has no failed dossier: nothing to retry", exit 0
test('patch retry of a run that failed as a whole (before any dossier) says why and the command that starts it again, exit 1, nothing started', async () => {
  const pool = ctx.stack.pools.get('main');
  const id = Number(
    (
      await pool.query(
        `INSERT INTO nightshift.patch_run (workflow_id, mode, state, source_dir, error) VALUES ('patch/main/whole-failed', 'integrate', 'failed', '/srv/patches/2026 12', 'no patch directory /srv/patches/2026 12 on host h1') RETURNING id`,
      )
    ).rows[0].id,
  );
  const runs = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0]!.n;
  const before = await runs();
  const r = await cli(['patch', 'retry', '--run', String(id)]);
  expect(r).toMatchObject({
    code: 1,
    stdout: '',
    stderr: `nightshift: patch run ${id} failed as a whole before any dossier (no patch directory /srv/patches/2026 12 on host h1): nothing to retry; once fixed, start it again: nightshift patch integrate "/srv/patches/2026 12" --target main\n`,
  });
  expect(await runs()).toBe(before);
});

// drill M: a Flyway user had no `info`: one dossier's ledger was read with psql
test('R-PI-8 R-PI-9: patch history CODE shows each patch of a dossier (applied by which run, pending, checksum differs), what a run would make of it, exit 0; an unknown code exit 2', async () => {
  const { pool, dir, top } = await freshRunSetUp('cli-history');
  await blockablePatches(dir, [top + 1, top + 2]);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  const run = await worker.runUntil(runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir, dossiers: ['DEMO0001', 'DEMO0002'] }));
  expect(run).toMatchObject({ state: 'completed' });

  const applied = await cli(['patch', 'history', 'DEMO0002']);
  expect(applied.code).toBe(0);
  expect(applied.stdout).toMatch(new RegExp(`^dossier DEMO0002 \\(regular[^)]*\\) of target main at patch level ${top + 2}; supervisor at ${top + 2}: \\d+ applied`, 'm'));
  expect(applied.stdout).toMatch(/^ +PATCH +TYPE +STATE +CHECKSUM +APPLIED \(\S+\) +RUN +DESCRIPTION$/m);
  expect(applied.stdout).toMatch(new RegExp(`^ +${top + 2} +standard +applied +[0-9a-f]{12}… +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +${run.runId} +blockable patch ${top + 2}$`, 'm'));
  expect(applied.stdout).not.toMatch(/revalidate|refuses/);

  // left out of the run: below the supervisor, its two patches pending, and the command that brings them
  const behind = await cli(['patch', 'history', 'DEMO0003']);
  expect(behind.code).toBe(0);
  expect(behind.stdout).toMatch(new RegExp(`^ +${top + 1} +standard +pending +[0-9a-f]{12}… +- +- +blockable patch ${top + 1}$`, 'm'));
  expect(behind.stdout).toContain(`below the supervisor's level (R-PI-9): nightshift patch revalidate DEMO0003 --target main brings patch(es) up to ${top + 2}`);
  const json = JSON.parse((await cli(['patch', 'history', 'DEMO0003', '--json'])).stdout);
  expect(json).toMatchObject({ code: 'DEMO0003', level: top, supervisorLevel: top + 2, counts: { pending: 2 } });
  expect(json.patches.slice(-2)).toEqual([
    expect.objectContaining({ number: top + 1, state: 'pending', appliedAt: null, runId: null }),
    expect.objectContaining({ number: top + 2, state: 'pending' }),
  ]);

  // its ledger changed by hand: what a run refuses (R-PI-8), said
  await pool.query(`UPDATE "d_DEMO0002".apatch SET checksum = repeat('e', 64) WHERE number = $1`, [top + 1]);
  try {
    const drifted = await cli(['patch', 'history', 'DEMO0002']);
    expect(drifted.stdout).toMatch(new RegExp(`^ +${top + 1} +standard +checksum differs +eeeeeeeeeeee… `, 'm'));
    expect(drifted.stdout).toContain("a run refuses this dossier (R-PI-8: its ledger differs from the stored packages); 'nightshift patch plan DIR --target main' says why");
    expect(drifted.stdout).toContain("a ledger holding a checksum a 'nightshift patch repair DIR' replaced (put back before restores realigned, or by hand): the same command realigns it");
  } finally {
    await pool.query(`UPDATE "d_DEMO0002".apatch a SET checksum = p.checksum FROM nightshift.patch_package p WHERE p.number = a.number AND a.number = $1`, [top + 1]);
  }
  // a ledger row deleted by hand below the level: said as it is, not as a refusal no run makes (drill P, session 37)
  const saved = await pool.query(`DELETE FROM "d_DEMO0002".apatch WHERE number = $1 RETURNING *`, [top + 1]);
  try {
    const holed = await cli(['patch', 'history', 'DEMO0002']);
    expect(holed.stdout).toMatch(new RegExp(`^ +${top + 1} +standard +missing `, 'm'));
    expect(holed.stdout).not.toContain('a run refuses this dossier');
    expect(holed.stdout).toContain(`its ledger lacks patch(es) ${top + 1} at or below its level (its apatch rows deleted by hand?): no run applies a patch below a dossier's level, so none brings it back (R-PI-8); check the dossier's content by hand, or restore it from a backup taken before ('nightshift backup list DEMO0002 --target main')`);
  } finally {
    const r = saved.rows[0] as Record<string, unknown>;
    const cols = Object.keys(r);
    await pool.query(`INSERT INTO "d_DEMO0002".apatch (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => r[c]));
  }
  expect(await cli(['patch', 'history', 'demo0002'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^nightshift: not a dossier of target main: demo0002 \(DEMO0002\?\)|^nightshift: not a dossier of target main: demo0002/) });
});


test('R-PI-3 R-OP-1: integrate --wait stopped at its supervisor names the run and advises as `patch status` does: a package at fault, its folder integrated again (drill A, session 35: one line, no run, no next step)', async () => {
  const { pool, dir, top } = await freshRunSetUp('cli-supervisor');
  await blockablePatches(dir, [top + 1]);
  await pool.query(`CREATE TABLE "d_DEMO0001".blocker (x int)`);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  try {
    await worker.runUntil(async () => {
      const r = await cli(['patch', 'integrate', dir, '--wait']);
      expect(r.code).toBe(1);
      const runId = (await pool.query<{ id: string }>(`SELECT id FROM nightshift.patch_run ORDER BY id DESC LIMIT 1`)).rows[0]!.id;
      expect(r.stderr).toMatch(new RegExp(`^nightshift: PatchSupervisorFailed: patch run ${runId}: the supervisor DEMO0001 failed, no other dossier was touched: .*blocker present\\n`));
      expect(r.stderr).toContain("\n  a package at fault (not the dossiers): a retry applies the run's stored packages again;");
      expect(r.stderr).toContain(`\n  then: nightshift patch integrate ${dir} --target main\n`);
      const status = await cli(['patch', 'status']);
      expect(status.stdout).toContain(`  then: nightshift patch integrate ${dir} --target main`);
    });
  } finally {
    await pool.query(`DROP TABLE "d_DEMO0001".blocker`);
    await closeWindows(pool);
  }
});

test('R-PI-9: revalidate of dossiers none of which is below the supervisor (the supervisor itself) starts nothing and says so, exit 0 (drill A, session 35: a run that did nothing read "revalidate completed")', async () => {
  const pool = ctx.stack.pools.get('main');
  const runs = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0]!.n;
  const level = (await pool.query<{ n: number }>(`SELECT patch_level AS n FROM nightshift.dossier WHERE code = 'DEMO0001'`)).rows[0]!.n;
  const before = await runs();
  const r = await cli(['patch', 'revalidate', 'DEMO0001']);
  expect(r).toMatchObject({ code: 0, stderr: '' });
  expect(r.stdout).toBe(`nothing to revalidate on main (DEMO0001: at or above the supervisor DEMO0001's level ${level}, R-PI-9): nothing started\n`);
  expect(JSON.parse((await cli(['patch', 'revalidate', 'DEMO0001', '--json'])).stdout)).toEqual({ revalidated: 0, supervisor: { code: 'DEMO0001', level } });
  expect(await runs()).toBe(before);
});

// Flyway's `migrate` on an up-to-date schema: "Schema is up to date. No migration necessary.", and nothing runs
test('R-PI-8 R-PI-9 R-PI-10: integrate of a folder every dossier already has starts nothing and says so, exit 0, with --wait and --json too and without a window (R-PI-2 is the run\'s); a dossier behind or to revalidate starts the run as before, a refusal of the plan stays one', async () => {
  const { pool, dir, top } = await freshRunSetUp('cli-up-to-date');
  await blockablePatches(dir, [top + 1, top + 2]);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  expect(await worker.runUntil(runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir }))).toMatchObject({ state: 'completed', failed: 0 });
  expect(Object.values(await levels(pool))).toEqual(Array(6).fill(top + 2));
  // no window from here on, and no worker: a run started would be refused (R-PI-2) or never end (--wait)
  await closeWindows(pool);
  const runs = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0]!.n;
  const before = await runs();
  const since = new Date();

  const said = `nothing to integrate on main: every dossier (6) already has the 2 packages of ${dir} (highest patch ${top + 2}), none below the supervisor DEMO0001's level ${top + 2} (R-PI-8, R-PI-9): nothing started\n`;
  for (const wait of [[], ['--wait']]) expect(await cli(['patch', 'integrate', dir, ...wait])).toMatchObject({ code: 0, stdout: said, stderr: '' });
  const json = { upToDate: true, target: 'main', dir, packages: 2, lastPatch: top + 2, dossiers: 6, selected: null, supervisor: { code: 'DEMO0001', level: top + 2 } };
  for (const wait of [[], ['--wait']]) {
    const r = await cli(['patch', 'integrate', dir, '--json', ...wait]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toEqual(json);
  }
  const selected = await cli(['patch', 'integrate', dir, '--dossiers', 'DEMO0002,DEMO0003']);
  expect(selected).toMatchObject({
    code: 0,
    stdout: `nothing to integrate on main: every selected dossier (DEMO0002, DEMO0003) already has the 2 packages of ${dir} (highest patch ${top + 2}), none below the supervisor DEMO0001's level ${top + 2} (R-PI-8, R-PI-9): nothing started\n`,
  });
  expect(JSON.parse((await cli(['patch', 'integrate', dir, '--dossiers', 'DEMO0002,DEMO0003', '--json'])).stdout)).toEqual({ ...json, dossiers: 2, selected: ['DEMO0002', 'DEMO0003'] });

  // the run's path, unchanged: the run's own check (R-PI-2, no window) refuses it, exit 1, where a dossier has something to do
  const refusedByTheRun = async (args: string[]) => {
    const r = await cli(['patch', 'integrate', dir, ...args]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^nightshift: PatchPrerequisiteFailed: patch run refused on main \(R-PI-2\), nothing started:\n {2}maintenance window in progress: /m);
  };
  // R-PI-9: DEMO0005 below the supervisor's level (its ledger holds both patches: the plan alone finds nothing to apply)
  await pool.query(`UPDATE nightshift.dossier SET patch_level = $1 WHERE code = 'DEMO0005'`, [top + 1]);
  try {
    await refusedByTheRun([]);
    await refusedByTheRun(['--wait']);
    // a selection without it has nothing to do
    expect((await cli(['patch', 'integrate', dir, '--dossiers', 'DEMO0002,DEMO0003'])).stdout).toMatch(/^nothing to integrate on main: every selected dossier/);
  } finally {
    await pool.query(`UPDATE nightshift.dossier SET patch_level = $1 WHERE code = 'DEMO0005'`, [top + 2]);
  }
  // R-PI-8: DEMO0006 behind, its last patch to apply (as a restore from before it leaves a dossier)
  const saved = await pool.query(`DELETE FROM "d_DEMO0006".apatch WHERE number = $1 RETURNING *`, [top + 2]);
  await pool.query(`UPDATE nightshift.dossier SET patch_level = $1 WHERE code = 'DEMO0006'`, [top + 1]);
  try {
    await refusedByTheRun([]);
    await refusedByTheRun(['--dossiers', 'DEMO0006']);
  } finally {
    const row = saved.rows[0] as Record<string, unknown>;
    const cols = Object.keys(row);
    await pool.query(`INSERT INTO "d_DEMO0006".apatch (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => row[c]));
    await pool.query(`UPDATE nightshift.dossier SET patch_level = $1 WHERE code = 'DEMO0006'`, [top + 2]);
  }
  // R-PI-8: a dossier whose ledger differs from the package: the run would fail it, so it is not "nothing to do"
  await pool.query(`UPDATE "d_DEMO0004".apatch SET checksum = repeat('e', 64) WHERE number = $1`, [top + 2]);
  try {
    await refusedByTheRun([]);
  } finally {
    await pool.query(`UPDATE "d_DEMO0004".apatch a SET checksum = p.checksum FROM nightshift.patch_package p WHERE p.number = a.number AND a.number = $1`, [top + 2]);
  }
  // ... and in the supervisor, refused before anything as today (exit 1, the plan's refusal, not "nothing to integrate")
  await pool.query(`UPDATE "d_DEMO0001".apatch SET checksum = repeat('e', 64) WHERE number = $1`, [top + 1]);
  try {
    const drifted = await cli(['patch', 'integrate', dir]);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toBe('');
    expect(drifted.stderr).toMatch(/^nightshift: ChecksumDrift: the supervisor would fail first, and the run end before any other dossier: patch \d+ was applied to dossier DEMO0001 with checksum eeeeeeeeeeee…/);
  } finally {
    await pool.query(`UPDATE "d_DEMO0001".apatch a SET checksum = p.checksum FROM nightshift.patch_package p WHERE p.number = a.number AND a.number = $1`, [top + 1]);
  }
  // back as it was: nothing to integrate again
  expect((await cli(['patch', 'integrate', dir])).stdout).toBe(said);

  // no run recorded, no workflow started
  await new Promise((res) => setTimeout(res, 1_000));
  expect(await runs()).toBe(before);
  const listed: string[] = [];
  for await (const w of ctx.temporal.client.workflow.list({ query: `WorkflowType = 'patchIntegrationWorkflow' AND StartTime >= '${since.toISOString()}'` })) listed.push(w.workflowId);
  expect(listed).toEqual([]);

  // R-MW-1: a window whose payload is that folder: scheduled all the same (the folder may change by then), with a warning
  // that its patch step integrates nothing as things are (logins would be cut for nothing: the wrong folder, or one taken)
  const windows = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.maintenance_window')).rows[0]!.n;
  const windowsBefore = await windows();
  const start = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 16);
  await (await createTestWorker(ctx.stack, ctx.temporal.nativeConnection)).runUntil(async () => {
    const scheduled = await cli(['maintenance', 'schedule', '--start', start, '--duration', '45m', '--type', 'deployment', '--payload', 'patch', '--patch-dir', dir, '--yes']);
    expect(scheduled.code).toBe(0);
    expect(scheduled.stderr).toContain(
      `warning: every dossier (6) of main already has the 2 packages of ${dir} (highest patch ${top + 2}), none below the supervisor DEMO0001's level ${top + 2}: ` +
        `the window's patch step integrates nothing unless the folder changes before it runs\n`,
    );
    expect(await windows()).toBe(windowsBefore + 1);
    expect((await cli(['maintenance', 'cancel'])).code).toBe(0);
  });
});

test('R-OP-1: integrate --dossiers: the Web UI summary names the dossiers, as the command did (drill A, session 35)', async () => {
  const { pool, dir, top } = await freshRunSetUp('cli-summary');
  await blockablePatches(dir, [top + 1]);
  // no worker: the run waits; its summary is set at its start
  const r = await cli(['patch', 'integrate', dir, '--dossiers', 'DEMO0001,DEMO0002', '--json'], { NIGHTSHIFT_CLAIM_WAIT_S: '0' });
  expect(r.code).toBe(0);
  const handle = ctx.temporal.client.workflow.getHandle(JSON.parse(r.stdout).workflowId);
  try {
    expect(await (await handle.describe()).staticSummary()).toBe(`Patch integration of ${path.basename(dir)} on main (dossiers DEMO0001, DEMO0002)`);
  } finally {
    await handle.terminate('test');
    await closeWindows(pool);
  }
});
