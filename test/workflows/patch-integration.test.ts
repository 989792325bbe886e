import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { failureTypeOf } from '../../domain/failures';
import { generateDemoPatches } from '../../patches/demo';
import { sealPatchPackage, writePatchPackage } from '../../patches/package';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { defaultPayloadConverter, type ApplicationFailure } from '@temporalio/common';
import type { temporal as proto } from '@temporalio/proto';
import { PatchFailure, partialPatchResult } from '../../workflows/patch-integration.api';
import { listRecentRuns } from '../../store/patch/recent-runs';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, tempDir, type TestStack } from '../helpers/env';
import {
  blockablePatches,
  closeWindows,
  demoDossiers,
  ledger,
  levels,
  markAllBackedUp,
  modifiedSinceBackup,
  openWindow,
  runPatch,
  startRun,
  treatments,
} from './patch-helpers';

/** Patch integration on the dev server with real activities on a real database (R-PI-1 … R-PI-9, R-BK-10). */

jest.setTimeout(120_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

async function withStack(dossiers: number, fn: (stack: TestStack, worker: Worker) => Promise<void>): Promise<void> {
  const stack = await createTestStack();
  try {
    await demoDossiers(stack, dossiers);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(fn(stack, worker));
  } finally {
    await stack.close();
  }
}

/** Inside a window, every dossier at patch 1, a directory of patches 1-3 whose patch 2 fails in the `blocked` dossiers. */
async function blockedAtPatch2(stack: TestStack, blocked: string[]): Promise<{ pool: ReturnType<TestStack['pools']['get']>; dir: string }> {
  const pool = stack.pools.get('main');
  await openWindow(pool);
  const first = tempDir('patches');
  await blockablePatches(first, [1]);
  expect((await runPatch(temporal.client, stack, { mode: 'integrate', dir: first })).state).toBe('completed');
  const dir = tempDir('patches');
  await blockablePatches(dir, [1, 2, 3]);
  for (const code of blocked) await pool.query(`CREATE TABLE ${qualified(schemaNameFor(code), 'blocker')} (x int)`);
  return { pool, dir };
}

async function failureOf(p: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  let e: unknown = err;
  let message = '';
  while (e instanceof Error) {
    message = e.message;
    e = e.cause;
  }
  return { type: failureTypeOf(err), message };
}

test('R-PI-2 R-PI-3..8 R-BK-10: prerequisites one by one, then routing, order, ledger, idempotent re-run, modified dossiers', async () => {
  await withStack(7, async (stack) => {
    const pool = stack.pools.get('main');
    const dir = tempDir('patches');
    await generateDemoPatches(dir, 4);

    // R-PI-2: no window, and a backup batch running: refused, each prerequisite reported
    await pool.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings) VALUES ('backup-batch/main/x', 'run', '{}')`);
    const refused = await failureOf(runPatch(temporal.client, stack, { mode: 'integrate', dir }));
    expect(refused.type).toBe(PatchFailure.PrerequisiteFailed);
    expect(refused.message).toMatch(/no backup batch: backup batch backup-batch\/main\/x is running/);
    expect(refused.message).toMatch(/maintenance window in progress: no maintenance window is in progress on main: run inside one/);
    expect(refused.message).not.toMatch(/supervisor dossier:/);
    expect(Object.values(await levels(pool))).toEqual(Array(7).fill(0));
    await pool.query(`UPDATE nightshift.backup_run SET state = 'completed'`);
    // a window scheduled, not begun: named, with its start (not "run inside one", which sends the operator to schedule another)
    await pool.query(
      `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
       VALUES (gen_random_uuid(), 'maintenance/test-later', 'deployment', 'scheduled', 'scheduled', now() + interval '1 hour', now() + interval '2 hours')`,
    );
    const early = await failureOf(runPatch(temporal.client, stack, { mode: 'integrate', dir }));
    expect(early.message).toMatch(/maintenance window in progress: no maintenance window is in progress on main: window maintenance\/test-later is scheduled to start at \S+Z; run again once it reaches phase working/);
    await pool.query(`DELETE FROM nightshift.maintenance_window WHERE workflow_id = 'maintenance/test-later'`);
    await openWindow(pool);

    await markAllBackedUp(pool);
    const r = await runPatch(temporal.client, stack, { mode: 'integrate', dir });
    expect(r.state).toBe('completed');
    expect(r.prerequisites.map((q) => [q.name, q.ok])).toEqual([
      ['supervisor dossier', true],
      ['no backup batch', true],
      ['no other patch run', true],
      ['no rollback', true],
      ['no restore run', true],
      ['maintenance window in progress', true],
    ]);
    expect(r.patches).toEqual({ first: 1, last: 4 });
    expect(r.supervisor).toMatchObject({ code: 'DEMO0001', status: 'ok', level: 4 });
    expect([r.total, r.done, r.failed, r.toRevalidateCount]).toEqual([7, 7, 0, 0]);
    expect(Object.values(await levels(pool))).toEqual(Array(7).fill(4));
    // R-BK-10: every touched dossier is modified since its backup
    expect(Object.values(await modifiedSinceBackup(pool))).toEqual(Array(7).fill(true));

    // R-PI-8: number order in every dossier; the supervisor before any other dossier
    const sup = await ledger(pool, 'DEMO0001');
    expect(sup.map((l) => [l.number, l.outcome])).toEqual([
      [1, 'applied'],
      [2, 'applied'],
      [3, 'applied'],
      [4, 'applied'],
    ]);
    for (const code of ['DEMO0002', 'DEMO0004', 'DEMO0006']) {
      const l = await ledger(pool, code);
      expect(l.map((x) => x.number)).toEqual([1, 2, 3, 4]);
      // R-PI-6: the supervisor-type patch 4 is not applied outside the supervisor, the level still moves on
      expect(l[3]!.outcome).toBe('not-applicable');
      expect(l[0]!.applied_at.getTime()).toBeGreaterThanOrEqual(sup[3]!.applied_at.getTime());
    }

    // R-PI-4: treatments in the supervisor, inherited by a regular dossier; a test dossier gets its own
    expect(Object.keys(await treatments(pool, 'DEMO0001'))).toEqual(['DOC4', 'TRT1', 'TRT2', 'TRT3']);
    expect(await treatments(pool, 'DEMO0002')).toEqual({});
    expect(Object.keys(await treatments(pool, 'DEMO0004'))).toEqual(['TRT1', 'TRT2', 'TRT3']);
    // R-PI-5: specific treatments in the specific dossier only, XKEEP never overwritten by patches 2 and 3
    const spec = await treatments(pool, 'DEMO0006');
    expect(Object.keys(spec)).toEqual(['SPE3', 'XKEEP', 'Y1B', 'Z2C']);
    expect(spec.XKEEP).toMatch(/shipped by patch 1/);
    // R-PI-7: dictionary everywhere the patch applies, the protected field as the first patch set it
    const dict = async (code: string) =>
      (await pool.query(`SELECT fields FROM ${qualified(`d_${code}`, 'dictionnaire')} WHERE key = 'ECRAN_COMMUN'`)).rows[0].fields;
    expect(await dict('DEMO0002')).toEqual({ libelle: 'Commun v3', parametrage: 'defaut du patch 1' });
    expect(await dict('DEMO0001')).toEqual({ libelle: 'Commun v4', parametrage: 'defaut du patch 1' });
    // structure and data in every dossier
    const parametres = await pool.query(`SELECT cle FROM ${qualified('d_DEMO0005', 'parametre')} WHERE cle LIKE 'patch.%' ORDER BY cle`);
    expect(parametres.rows.map((x) => x.cle)).toEqual(['patch.1', 'patch.2', 'patch.3']);
    expect((await pool.query(`SELECT to_regclass('"d_DEMO0005".zpatch_1') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);

    // idempotent re-run: nothing applied, nothing touched
    await markAllBackedUp(pool);
    const again = await runPatch(temporal.client, stack, { mode: 'integrate', dir });
    expect(again.state).toBe('completed');
    const items = await pool.query(`SELECT applied FROM nightshift.patch_run_item WHERE run_id = $1`, [again.runId]);
    expect(items.rows.map((x) => x.applied)).toEqual(Array(7).fill([]));
    expect(Object.values(await modifiedSinceBackup(pool))).toEqual(Array(7).fill(false));
    expect((await ledger(pool, 'DEMO0003')).length).toBe(4);

    // R-PI-8 checksum drift: a package changed after integration is refused before any dossier...
    fs.appendFileSync(path.join(dir, 'P0002', 'data', '0002.sql'), '-- changed\n');
    await sealPatchPackage(path.join(dir, 'P0002'));
    const drift = await failureOf(runPatch(temporal.client, stack, { mode: 'integrate', dir }));
    expect(drift.type).toBe(PatchFailure.ChecksumDrift);
    expect(drift.message).toMatch(/patch 2 \(P0002\) was already integrated on this target with checksum/);
    // ...and a dossier whose ledger disagrees with the stored package is refused, the others go on
    const fresh = tempDir('patches');
    await generateDemoPatches(fresh, 5);
    await pool.query(`UPDATE ${qualified('d_DEMO0003', 'apatch')} SET checksum = repeat('0', 64) WHERE number = 2`);
    const partial = await runPatch(temporal.client, stack, { mode: 'integrate', dir: fresh });
    expect(partial.state).toBe('partial');
    expect(partial.failures).toEqual([{ code: 'DEMO0003', status: 'failed', patch: 2, error: expect.stringMatching(/patch 2 was applied to dossier DEMO0003 with checksum 000000000000…, .*refused \(R-PI-8\)/) }]);
    expect(await levels(pool)).toMatchObject({ DEMO0001: 5, DEMO0002: 5, DEMO0003: 4 });
    expect(partial.toRevalidate).toEqual([{ code: 'DEMO0003', level: 4 }]);
    await closeWindows(pool);
  });
});

test('R-PI-3 without the supervisor in the list treatments are not patched (the run says so); a test dossier still gets its own', async () => {
  await withStack(5, async (stack) => {
    const pool = stack.pools.get('main');
    await openWindow(pool);
    const dir = tempDir('patches');
    await generateDemoPatches(dir, 1);
    const r = await runPatch(temporal.client, stack, { mode: 'integrate', dir, dossiers: ['DEMO0002', 'DEMO0004'] });
    expect(r.state).toBe('completed');
    expect(r.supervisor).toMatchObject({ code: 'DEMO0001', status: 'not-in-list' });
    expect(r.notes[0]).toMatch(/treatments of patch\(es\) 1 are not patched: the supervisor dossier DEMO0001 is not in the list \(R-PI-3\)/);
    expect(await treatments(pool, 'DEMO0001')).toEqual({});
    expect(Object.keys(await treatments(pool, 'DEMO0004'))).toEqual(['TRT1']);
    expect(await levels(pool)).toEqual({ DEMO0001: 0, DEMO0002: 1, DEMO0003: 0, DEMO0004: 1, DEMO0005: 0 });
  });
});

test('supervisor first: its failure stops the run before any other dossier is touched', async () => {
  await withStack(4, async (stack) => {
    const pool = stack.pools.get('main');
    await openWindow(pool);
    const dir = tempDir('patches');
    await blockablePatches(dir, [1, 2]);
    // patch 1 passes everywhere; the blocker then makes patch 2 fail in the supervisor
    await pool.query(`CREATE TABLE ${qualified('d_DEMO0001', 'placeholder')} (x int)`);
    await pool.query(`CREATE TABLE ${qualified('d_DEMO0001', 'blocker')} (x int)`);
    const first = await startRun(temporal.client, stack, { mode: 'integrate', dir });
    const err = await failureOf(first.result());
    expect(err.type).toBe(PatchFailure.SupervisorFailed);
    // R-OP-1: the Web UI says whose fault it is, as `patch status` does: no dossier holds patch 1, the package is suspect
    const shown = (await first.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    expect(shown).toContain("a package at fault (not the dossiers): a retry applies the run's stored packages again; fix the package, reseal it (nightshift patch seal PKG), then integrate the folder again");
    // tester B: the next step on the same verdict (it said "fix the failed dossiers, then patch them again")
    expect(shown).toContain(`fix the package, reseal it (nightshift patch seal PKG), then integrate the folder again: \`nightshift patch integrate ${dir} --target main\``);
    expect(shown).not.toContain('then patch them again');
    expect(err.message).toMatch(/the supervisor DEMO0001 failed, no other dossier was touched: patch 1 failed in dossier DEMO0001 \(data\.sql\): blocker present/);
    expect(await levels(pool)).toEqual({ DEMO0001: 0, DEMO0002: 0, DEMO0003: 0, DEMO0004: 0 });
    const run = await pool.query(`SELECT state, (SELECT count(*)::int FROM nightshift.patch_run_item i WHERE i.run_id = r.id) AS items FROM nightshift.patch_run r`);
    expect(run.rows).toEqual([{ state: 'failed', items: 1 }]);
    expect((await pool.query(`SELECT to_regclass('"d_DEMO0002".apatch') AS t`)).rows[0].t).toBeNull();

    // the cause fixed, its retry goes on where the run stopped: the supervisor, then every other dossier (not the supervisor alone)
    await pool.query(`DROP TABLE ${qualified('d_DEMO0001', 'blocker')}`);
    const retry = await runPatch(temporal.client, stack, { mode: 'retry' });
    expect(retry).toMatchObject({ state: 'completed', total: 4, failed: 0, toRevalidateCount: 0 });
    expect(await levels(pool)).toEqual({ DEMO0001: 2, DEMO0002: 2, DEMO0003: 2, DEMO0004: 2 });
  });
});

test('tester B: a run whose failures are the package\'s (no dossier holds the patch that failed) gives as next step the package fixed, resealed and integrated again, as its advice says', async () => {
  await withStack(4, async (stack) => {
    const pool = stack.pools.get('main');
    await openWindow(pool);
    const dir = tempDir('patches');
    await blockablePatches(dir, [1]);
    for (const code of ['DEMO0002', 'DEMO0003']) await pool.query(`CREATE TABLE ${qualified(schemaNameFor(code), 'blocker')} (x int)`);
    // the supervisor not in the list: patch 1 fails in every dossier it goes to, none holds it
    const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir, dossiers: ['DEMO0002', 'DEMO0003'] });
    const failed = await handle.result().catch((e: unknown) => e);
    const r = partialPatchResult(failed)!;
    expect(r).toMatchObject({ state: 'partial', failuresTotal: 2, packageHeld: false });
    // the workflow list's message says the same next step
    expect((failed as WorkflowFailedError).cause!.message).toMatch(new RegExp(`; next: nightshift patch integrate ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --target main$`));
    const shown = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    expect(shown).toContain("a package at fault (not the dossiers): a retry applies the run's stored packages again");
    expect(shown).toContain(`fix the package, reseal it (nightshift patch seal PKG), then integrate the folder again: \`nightshift patch integrate ${dir} --target main\``);
    expect(shown).not.toContain('fix the failed dossiers');
  });
});

test('R-PI-9 a failed dossier stops at its last good patch, the others go on; retry and revalidate bring them up', async () => {
  await withStack(6, async (stack) => {
    const { pool, dir } = await blockedAtPatch2(stack, ['DEMO0003']);
    // issue 12: a run with failed dossiers FAILS (the list shows it) with PatchRunPartial, the whole result in details[0]
    const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir });
    const failed = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    expect(failureTypeOf(failed)).toBe(PatchFailure.RunPartial);
    expect(((failed as WorkflowFailedError).cause as ApplicationFailure).nonRetryable).toBe(true);
    const r = partialPatchResult(failed)!;
    const retry1 = `nightshift patch retry --target main --run ${r.runId}`;
    expect((failed as WorkflowFailedError).cause!.message).toBe(
      `patch run ${r.runId} on main: 1 of 6 dossier(s) failed (DEMO0003: patch 2 failed in dossier DEMO0003 (data.sql): blocker present); next: ${retry1}`,
    );
    expect(r.state).toBe('partial');
    expect(r.failures).toEqual([{ code: 'DEMO0003', status: 'failed', patch: 2, error: 'patch 2 failed in dossier DEMO0003 (data.sql): blocker present' }]);
    expect([r.failuresTotal, r.retryCommand]).toEqual([1, retry1]);
    // R-OP-1: the current details say the same, the command in a code span (copyable as is)
    const shown = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    expect(shown).toContain('phase **partial**');
    expect(shown).toContain('**6 / 6** dossiers · **1 failed**');
    expect(shown).toContain('- DEMO0003: patch 2 failed in dossier DEMO0003 (data.sql): blocker present');
    expect(shown).toContain(`fix the failed dossiers, then patch them again: \`${retry1}\``);
    // whose fault, as `patch status` says it: patch 2 is applied elsewhere, the cause is in DEMO0003
    expect(r.packageHeld).toBe(true);
    expect(shown).toContain('no package at fault (the patch that failed is applied in other dossiers, or no patch failed): the cause is in the failed dossiers (fix them, then retry)');
    expect(await levels(pool)).toEqual({ DEMO0001: 3, DEMO0002: 3, DEMO0003: 1, DEMO0004: 3, DEMO0005: 3, DEMO0006: 3 });
    expect(r.toRevalidate).toEqual([{ code: 'DEMO0003', level: 1 }]);

    // the operator fixes the dossier, then retries the failed dossiers of that run
    await pool.query(`DROP TABLE ${qualified('d_DEMO0003', 'blocker')}`);
    const retry = await runPatch(temporal.client, stack, { mode: 'retry' });
    expect(retry.state).toBe('completed');
    expect([retry.total, retry.toRevalidateCount]).toEqual([1, 0]);
    expect((await levels(pool)).DEMO0003).toBe(3);

    // a subset run leaves the others below the supervisor: listed, then revalidated from the stored packages
    const more = tempDir('patches');
    await blockablePatches(more, [4, 5]);
    const subset = await runPatch(temporal.client, stack, { mode: 'integrate', dir: more, dossiers: ['DEMO0001', 'DEMO0002'] });
    expect(subset.toRevalidate.map((d) => d.code)).toEqual(['DEMO0003', 'DEMO0004', 'DEMO0005', 'DEMO0006']);
    fs.rmSync(more, { recursive: true });
    const reval = await runPatch(temporal.client, stack, { mode: 'revalidate', dossiers: ['DEMO0004'] });
    expect([reval.state, reval.toRevalidateCount]).toEqual(['completed', 3]);
    const all = await runPatch(temporal.client, stack, { mode: 'revalidate' });
    expect([all.state, all.total, all.toRevalidateCount]).toEqual(['completed', 3, 0]);
    expect(Object.values(await levels(pool))).toEqual(Array(6).fill(5));
    // no patch applied twice in any dossier
    const twice = await pool.query(`SELECT n, count(*)::int AS c FROM ${qualified('d_DEMO0003', 'applylog')} GROUP BY n ORDER BY n`);
    expect(twice.rows).toEqual([1, 2, 3, 4, 5].map((n) => ({ n, c: 1 })));
  });
});

test('R-PI-5 R-PI-4 in never-patched dossiers: the first run keeps the specific treatment a dossier already holds (the run ledger says why) and installs the regular one in the supervisor', async () => {
  await withStack(6, async (stack) => {
    const pool = stack.pools.get('main');
    for (const code of ['DEMO0001', 'DEMO0006']) {
      const table = qualified(schemaNameFor(code), 'traitement');
      await pool.query(`CREATE TABLE ${table} (name text PRIMARY KEY, body text NOT NULL, checksum text NOT NULL, origin_patch integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
      await pool.query(`INSERT INTO ${table} (name, body, checksum, origin_patch) VALUES ('XTRT1', 'own XTRT1', 'own', 0), ('TRT1', 'old TRT1', 'old', 0)`);
    }
    const dir = tempDir('wf-specific');
    await writePatchPackage(
      dir,
      'P0001',
      { number: 1, type: 'standard', description: 'ships XTRT1 and TRT1', treatments: [{ name: 'XTRT1', file: 'x.src' }, { name: 'TRT1', file: 't.src' }], dictionary: [], protectedDictionaryFields: [], structure: [], data: [] },
      { 'x.src': 'patched XTRT1\n', 't.src': 'patched TRT1\n' },
    );
    await openWindow(pool);
    const r = await runPatch(temporal.client, stack, { mode: 'integrate', dir });
    expect(r).toMatchObject({ state: 'completed', failed: 0, total: 6 });
    expect(await treatments(pool, 'DEMO0001')).toEqual({ XTRT1: 'own XTRT1', TRT1: 'patched TRT1\n' });
    expect(await treatments(pool, 'DEMO0006')).toEqual({ XTRT1: 'own XTRT1', TRT1: 'old TRT1' });
    const { rows } = await pool.query('SELECT code, notes FROM nightshift.patch_run_item WHERE run_id = $1 AND notes <> $2 ORDER BY code', [r.runId, []]);
    const why = ['patch 1: treatment XTRT1 kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)'];
    expect(rows).toEqual([{ code: 'DEMO0001', notes: why }, { code: 'DEMO0006', notes: why }]);
  });
});

test('issue 11.2: 11 dossiers in chunks of 2, one chunk per workflow run: the run continues as new and ends with every dossier patched once, no result holding every code', async () => {
  await withStack(11, async (stack) => {
    const pool = stack.pools.get('main');
    await openWindow(pool);
    const dir = tempDir('patches');
    await blockablePatches(dir, [1, 2]);
    const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir, tuning: { chunkSize: 2, concurrency: 2, maxChunksPerRun: 1 } });
    const r = await handle.result();
    expect(r).toMatchObject({ state: 'completed', total: 11, done: 11, failed: 0, failures: [], failuresTotal: 0 });
    expect(Object.values(await levels(pool))).toEqual(Array(11).fill(2));
    for (const code of Object.keys(await levels(pool))) {
      expect((await pool.query(`SELECT n FROM ${qualified(schemaNameFor(code), 'applylog')} ORDER BY n`)).rows.map((x) => x.n)).toEqual([1, 2]);
    }
    // the first run: claim, supervisor, one chunk, then continue-as-new; 5 chunks for the 10 others, and a
    // sixth run that finds the selection exhausted (the fifth page was full)
    const chain: proto.api.history.v1.IHistoryEvent[][] = [];
    for (let runId: string | undefined = handle.firstExecutionRunId; runId; ) {
      const run: proto.api.history.v1.IHistoryEvent[] = (await temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
      chain.push(run);
      runId = run.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    expect(chain.length).toBe(6);
    const events = chain.flat();
    // no activity result carries the dossier codes: a chunk returns counts and capped failures
    const results = events.filter((e) => e.activityTaskCompletedEventAttributes).map((e) => JSON.stringify(e.activityTaskCompletedEventAttributes!.result ?? ''));
    expect(results.every((x) => x.length < 2_000)).toBe(true);
  });
});

test('issue 11.2: a dossier locked for 8 s (heartbeat timeout 5 s) does not time out its chunk: one attempt per chunk; the details show it in flight, the heartbeat {current, done, of}', async () => {
  await withStack(5, async (stack) => {
    const pool = stack.pools.get('main');
    await openWindow(pool);
    const dir = tempDir('patches');
    await blockablePatches(dir, [1]);
    // the operator's session (or a long transaction) holds DEMO0003's registry row: its patch waits for it
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM nightshift.dossier WHERE code = 'DEMO0003' FOR UPDATE`);
    let released = false;
    try {
      // a heartbeat timeout shorter than the 8 s wait; not 2 s: the engine ticks a heartbeat every 2 s
      // (activities/fan-out.ts), and a timeout equal to the tick raced it (one attempt in a few timed out)
      const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir, tuning: { chunkSize: 4, concurrency: 1, heartbeatTimeoutSeconds: 5, detailsEverySeconds: 1 } });
      // once DEMO0003 waits: the details name it in flight, the chunk's heartbeat says where it is
      let details = '';
      let beat: unknown;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        details = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        const payload = pending.find((a) => a.activityType?.name === 'applyPatchChunk')?.heartbeatDetails?.payloads?.[0];
        beat = payload ? defaultPayloadConverter.fromPayload(payload as never) : undefined;
        // the chunk's heartbeat reaches the server at most every 80 % of the timeout (the SDK's throttle): waited for too
        const waiting = Number(/In flight: DEMO0003 for (\d+) s/.exec(details)?.[1] ?? 0);
        if (waiting >= 3 && (beat as { current?: { code: string }[] } | undefined)?.current?.some((c) => c.code === 'DEMO0003')) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      expect(details).toMatch(/In flight: DEMO0003 for \d+ s/);
      expect(beat).toMatchObject({ current: [{ code: 'DEMO0003' }], done: 1, of: 4 });
      await new Promise((res) => setTimeout(res, Math.max(0, 8_000)));
      await holder.query('ROLLBACK');
      released = true;
      const r = await handle.result();
      expect(r).toMatchObject({ state: 'completed', total: 5, done: 5, failed: 0 });
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.activityTaskTimedOutEventAttributes)).toEqual([]);
      const attempts = events.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
      expect(attempts.length).toBeGreaterThanOrEqual(6);
      expect(attempts.every((a) => a === 1)).toBe(true);
      expect((await pool.query(`SELECT n FROM ${qualified('d_DEMO0003', 'applylog')}`)).rows).toEqual([{ n: 1 }]);
    } finally {
      if (!released) await holder.query('ROLLBACK');
      holder.release();
    }
  });
});

test('AWS SSM MaxErrors: the retry of a run --max-failures stopped takes its failed dossiers and those it did not start, and no others (a run of listed dossiers: those listed only, also through a retry stopped in turn)', async () => {
  await withStack(10, async (stack) => {
    const { pool, dir } = await blockedAtPatch2(stack, ['DEMO0002', 'DEMO0003', 'DEMO0005']);
    const stopped = await runPatch(temporal.client, stack, { mode: 'integrate', dir, maxFailures: { count: 1 }, tuning: { concurrency: 1 } });
    expect(stopped).toMatchObject({ state: 'partial', stopped: { notStarted: 7 } });
    expect(stopped.notes.join('\n')).toContain("7 dossier(s) not started, left at their level (once the cause is fixed, 'nightshift patch retry' of this run takes them with the failed ones)");
    // the cause fixed in one of the two failed dossiers: the retry goes on as the run would have
    await pool.query(`DROP TABLE ${qualified(schemaNameFor('DEMO0002'), 'blocker')}`);
    const retry = await runPatch(temporal.client, stack, { mode: 'retry', retryOf: stopped.runId! });
    expect(retry).toMatchObject({ state: 'partial', total: 9, done: 9, failuresTotal: 2 });
    expect(retry.failures.map((f) => f.code)).toEqual(['DEMO0003', 'DEMO0005']);
    const items = await pool.query<{ code: string }>('SELECT code FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code', [retry.runId]);
    expect(items.rows.map((x) => x.code)).toEqual(['DEMO0002', 'DEMO0003', 'DEMO0004', 'DEMO0005', 'DEMO0006', 'DEMO0007', 'DEMO0008', 'DEMO0009', 'DEMO0010']);
    expect(await levels(pool)).toEqual({ DEMO0001: 3, DEMO0002: 3, DEMO0003: 1, DEMO0004: 3, DEMO0005: 1, DEMO0006: 3, DEMO0007: 3, DEMO0008: 3, DEMO0009: 3, DEMO0010: 3 });

    // a run of listed dossiers stopped at its first failure: its retry takes the listed ones it did not start, not the
    // other dossiers below its last patch (they were never its own)
    const four = tempDir('patches');
    await blockablePatches(four, [1, 2, 3, 4]);
    const listed = await runPatch(temporal.client, stack, {
      mode: 'integrate',
      dir: four,
      dossiers: ['DEMO0001', 'DEMO0003', 'DEMO0004', 'DEMO0006'],
      maxFailures: { count: 0 },
      tuning: { chunkSize: 1, concurrency: 1 },
    });
    expect(listed).toMatchObject({ state: 'partial', failuresTotal: 1, stopped: { notStarted: 2 } });
    // its retry stopped in turn at its first dossier (still blocked), then the retry of that retry: the list goes on
    const again = await runPatch(temporal.client, stack, { mode: 'retry', retryOf: listed.runId!, maxFailures: { count: 0 }, tuning: { chunkSize: 1, concurrency: 1 } });
    expect(again).toMatchObject({ state: 'partial', failuresTotal: 1, stopped: { notStarted: 2 } });
    const last = await runPatch(temporal.client, stack, { mode: 'retry', retryOf: again.runId! });
    expect(last).toMatchObject({ state: 'partial', total: 3, failuresTotal: 1 });
    const lastItems = await pool.query<{ code: string }>('SELECT code FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code', [last.runId]);
    expect(lastItems.rows.map((x) => x.code)).toEqual(['DEMO0003', 'DEMO0004', 'DEMO0006']);
    expect(await levels(pool)).toMatchObject({ DEMO0001: 4, DEMO0002: 3, DEMO0004: 4, DEMO0006: 4, DEMO0007: 3 });
  });
});

test('AWS SSM MaxErrors: --max-failures 1 stops starting dossiers at the second failure (those started finish, the others keep their level); 50 % lets a revalidation with three failures go on', async () => {
  await withStack(10, async (stack) => {
    const { pool, dir } = await blockedAtPatch2(stack, ['DEMO0002', 'DEMO0003', 'DEMO0005']);
    // one chunk of the 9 others (the supervisor DEMO0001 first), in code order: the chunk stops inside itself
    const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir, maxFailures: { count: 1 }, tuning: { concurrency: 1 } });
    const failed = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failureTypeOf(failed)).toBe(PatchFailure.RunPartial);
    const r = partialPatchResult(failed)!;
    expect((failed as WorkflowFailedError).cause!.message).toContain(`patch run ${r.runId} on main: 2 of 10 dossier(s) failed, stopped (--max-failures 1): 7 not started`);
    expect(r).toMatchObject({ state: 'partial', done: 3, total: 10, failuresTotal: 2, stopped: { failed: 2, limit: 1, maxFailures: '1', notStarted: 7 } });
    expect(r.failures.map((f) => f.code)).toEqual(['DEMO0002', 'DEMO0003']);
    const stoppedNote =
      "stopped: 2 dossier(s) failed, more than the 1 that --max-failures 1 allows; 7 dossier(s) not started, left at their level (once the cause is fixed, 'nightshift patch retry' of this run takes them with the failed ones)";
    expect(r.notes).toEqual(expect.arrayContaining(['stops starting dossiers once more than 1 of the 9 other(s) have failed (--max-failures 1)', stoppedNote]));
    // nothing started past the stop: DEMO0005's blocker never met, the others still at patch 1, no ledger row for them
    expect(await levels(pool)).toEqual({ DEMO0001: 3, DEMO0002: 1, DEMO0003: 1, DEMO0004: 1, DEMO0005: 1, DEMO0006: 1, DEMO0007: 1, DEMO0008: 1, DEMO0009: 1, DEMO0010: 1 });
    const items = await pool.query<{ code: string }>('SELECT code FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code', [r.runId]);
    expect(items.rows.map((x) => x.code)).toEqual(['DEMO0001', 'DEMO0002', 'DEMO0003']);
    expect(r.toRevalidateCount).toBe(9);
    // `patch status --run N` reads the run's notes from its row: the stop is there
    const [row] = await listRecentRuns(pool, r.runId!);
    expect(row!.notes).toContain(stoppedNote);
    expect(row!.notStarted).toBe(7);
    // R-OP-1: the Web UI's details say it, as the result does
    const shown = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    expect(shown).toContain(stoppedNote);
    expect(shown).toContain('**3 / 10** dossiers · **2 failed**');

    // --max-failures 0 in chunks of one: the first failure stops the run between chunks
    const zero = await runPatch(temporal.client, stack, { mode: 'integrate', dir, maxFailures: { count: 0 }, tuning: { chunkSize: 1, concurrency: 1 } });
    expect(zero).toMatchObject({ state: 'partial', failuresTotal: 1, stopped: { failed: 1, limit: 0, maxFailures: '0' } });
    expect(zero.failures.map((f) => f.code)).toEqual(['DEMO0002']);
    const zeroItems = await pool.query<{ code: string }>('SELECT code FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code', [zero.runId]);
    expect(zeroItems.rows.map((x) => x.code)).toEqual(['DEMO0001', 'DEMO0002']);
    expect((await listRecentRuns(pool, zero.runId!))[0]!.notStarted).toBe(8);

    // a share of the others: 50 % of 9 is 4, three fail, the run goes through (partial, not stopped)
    const reval = await runPatch(temporal.client, stack, { mode: 'revalidate', maxFailures: { percent: 50 }, tuning: { chunkSize: 1, concurrency: 1 } });
    expect(reval).toMatchObject({ state: 'partial', total: 9, done: 9, failuresTotal: 3 });
    expect(reval.stopped).toBeUndefined();
    expect((await listRecentRuns(pool, reval.runId!))[0]!.notStarted).toBeNull();
    expect(reval.notes).toContain('stops starting dossiers once more than 4 of the 9 other(s) have failed (--max-failures 50%)');
    expect(Object.entries(await levels(pool)).filter(([, l]) => l === 3).map(([c]) => c)).toEqual(['DEMO0001', 'DEMO0004', 'DEMO0006', 'DEMO0007', 'DEMO0008', 'DEMO0009', 'DEMO0010']);
  });
});
