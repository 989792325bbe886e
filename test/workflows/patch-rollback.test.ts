import fs from 'node:fs';
import { WorkflowFailedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createRollbackActivities } from '../../activities/rollback';
import { failureTypeOf } from '../../domain/failures';
import { RollbackFailure, partialRollbackResult } from '../../workflows/patch-rollback.api';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, tempDir, type TestStack } from '../helpers/env';
import { closeWindows, demoDossiers, ledger, levels, modifiedSinceBackup, openWindow, runPatch, treatments } from './patch-helpers';
import { block, halfWayPatches, rollbackLedger, runRollback, startRollback, statesOf } from './patch-rollback-helpers';

/** Patch rollback (R-PI-11) on the dev server with real activities, a real database and real archives. */

jest.setTimeout(240_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

async function withStack(dossiers: number, fn: (stack: TestStack, codes: string[], worker: Worker) => Promise<void>): Promise<void> {
  const stack = await createTestStack();
  try {
    const codes = await demoDossiers(stack, dossiers);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(fn(stack, codes, worker));
  } finally {
    await stack.close();
  }
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

const pick = <T>(o: Record<string, T>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));
const BLOCKED = ['DEMO0004', 'DEMO0007'];

test('R-PI-11 R-PI-8: a patch that fails half-way in two dossiers, run with restore points; `rollback --run ID --failed-only` gives them back their tables, treatments, dictionary, ledger and level exactly (table checksums), once each; the others keep the patch', async () => {
  await withStack(8, async (stack, codes) => {
    const pool = stack.pools.get('main');
    const dir = tempDir('patches');
    await halfWayPatches(dir);
    await block(pool, BLOCKED);
    await openWindow(pool);
    const before = await statesOf(pool, codes);

    const run = await runPatch(temporal.client, stack, { mode: 'integrate', dir, restorePoints: true });
    expect(run.state).toBe('partial');
    expect(run.failures.map((f) => f.code)).toEqual(BLOCKED);
    expect(run.failures[0]!.error).toMatch(/blocker present/);
    // half-way: P1 is in the failed dossiers, P2 rolled back by its own transaction
    const patched = await levels(pool);
    for (const c of codes) expect([c, patched[c]]).toEqual([c, BLOCKED.includes(c) ? 1 : 2]);
    expect(Object.keys(await treatments(pool, 'DEMO0004'))).toEqual(['TRT1']);
    expect((await ledger(pool, 'DEMO0004')).map((l) => l.number)).toEqual([1]);
    const afterPatch = await statesOf(pool, codes);
    for (const c of codes) expect(afterPatch[c]).not.toEqual(before[c]);

    const lastBackups = async () => (await pool.query(`SELECT code, last_backup_at::text AS at FROM nightshift.dossier WHERE code = ANY ($1) ORDER BY code`, [BLOCKED])).rows;
    const backedUp = await lastBackups();
    expect(backedUp.every((r) => r.at !== null)).toBe(true);

    const rb = await runRollback(temporal.client, stack, { patchRun: run.runId!, failedOnly: true });
    expect(rb).toMatchObject({ state: 'completed', phase: 'completed', total: 2, done: 2, failed: 0, restored: 2, restoredCodes: BLOCKED, failuresTotal: 0 });
    expect(rb.prerequisites.every((q) => q.ok)).toBe(true);
    // the restore points it used are no longer leased (the patch run's lease, the rollback's own); a worker killed
    // between a restore's commit and that release left them behind: the run's end lets them go (drill of 2026-12-06)
    const rbId = Number((await pool.query<{ id: string }>('SELECT max(id) AS id FROM nightshift.patch_rollback_run')).rows[0]!.id);
    const leases = async () =>
      (await pool.query<{ holder: string }>('SELECT l.holder FROM nightshift.backup_generation_lease l JOIN nightshift.patch_rollback_item f ON f.generation_id = l.generation_id WHERE f.run_id = $1 ORDER BY 1', [rbId])).rows.map((r) => r.holder);
    expect(await leases()).toEqual([]);
    await pool.query(
      `INSERT INTO nightshift.backup_generation_lease (generation_id, holder, expires_at)
       SELECT f.generation_id, h, now() + interval '30 days' FROM nightshift.patch_rollback_item f, unnest(ARRAY['restore-point:' || f.patch_run, 'rollback:' || f.run_id]) AS h WHERE f.run_id = $1`,
      [rbId],
    );
    expect(await leases()).toHaveLength(4);
    await createRollbackActivities({ config: stack.config, pools: stack.pools }).finishRollbackRun({ target: 'main', runId: rbId, notes: [] });
    expect(await leases()).toEqual([]);
    // their whole state is the pre-patch one; the other dossiers are as the patch left them
    expect(await statesOf(pool, BLOCKED)).toEqual(pick(before, BLOCKED));
    const others = codes.filter((c) => !BLOCKED.includes(c));
    expect(await statesOf(pool, others)).toEqual(pick(afterPatch, others));
    expect(await treatments(pool, 'DEMO0004')).toEqual({});
    // exactly once, recorded in both ledgers; R-BK-10: the next batch backs them up
    expect(await rollbackLedger(pool)).toEqual({ restored: { DEMO0004: 1, DEMO0007: 1 }, markedRolledBack: BLOCKED });
    // the backup history stays (the restore point was a backup); R-BK-10: the next batch backs them up
    expect(await lastBackups()).toEqual(backedUp);
    const modified = await modifiedSinceBackup(pool);
    expect(BLOCKED.map((c) => modified[c])).toEqual([true, true]);

    // the same again: refused, nothing changed
    const again = await failureOf(runRollback(temporal.client, stack, { patchRun: run.runId!, failedOnly: true }));
    expect(again.type).toBe(RollbackFailure.NoRestorePoint);
    expect(again.message).toMatch(/already rolled back \(2\); nothing was changed/);
    expect(await rollbackLedger(pool)).toEqual({ restored: { DEMO0004: 1, DEMO0007: 1 }, markedRolledBack: BLOCKED });

    // by code: a dossier the run completed goes back to its restore point too
    const one = await runRollback(temporal.client, stack, { dossiers: ['DEMO0002'] });
    expect(one).toMatchObject({ state: 'completed', restored: 1, restoredCodes: ['DEMO0002'] });
    expect(await statesOf(pool, ['DEMO0002'])).toEqual(pick(before, ['DEMO0002']));

    // the cause fixed, the failed dossiers patched again from their pre-patch state
    for (const c of BLOCKED) await pool.query(`DROP TABLE "d_${c}".blocker`);
    const retry = await runPatch(temporal.client, stack, { mode: 'retry', retryOf: run.runId! });
    expect(retry.state).toBe('completed');
    const end = await levels(pool);
    expect(BLOCKED.map((c) => end[c])).toEqual([2, 2]);
    expect((await ledger(pool, 'DEMO0004')).map((l) => l.number)).toEqual([1, 2]);
  });
});

test('R-PI-11 R-PI-2: refused outside a window, for a dossier without a restore point and for a run that took none: a clear reason, nothing changed', async () => {
  await withStack(5, async (stack, codes) => {
    const pool = stack.pools.get('main');
    const dir = tempDir('patches');
    await halfWayPatches(dir);
    await openWindow(pool);
    // a run without restore points
    const plain = await runPatch(temporal.client, stack, { mode: 'integrate', dir, dossiers: ['DEMO0001', 'DEMO0002'] });
    expect(plain.state).toBe('completed');
    const noPoints = await failureOf(runRollback(temporal.client, stack, { patchRun: plain.runId! }));
    expect(noPoints.type).toBe(RollbackFailure.NoRestorePoint);
    expect(noPoints.message).toMatch(new RegExp(`patch run ${plain.runId} has no restore point .*nothing was changed`));
    const byCode = await failureOf(runRollback(temporal.client, stack, { dossiers: ['DEMO0002', 'DEMO0003'] }));
    expect(byCode.type).toBe(RollbackFailure.NoRestorePoint);
    expect(byCode.message).toMatch(/no restore point to roll back to for DEMO0002, DEMO0003 on main/);

    // with restore points, then outside a window: R-PI-2 refuses
    const run = await runPatch(temporal.client, stack, { mode: 'integrate', dir, restorePoints: true });
    expect(run.state).toBe('completed');
    const state = await statesOf(pool, codes);
    await closeWindows(pool);
    const outside = await failureOf(runRollback(temporal.client, stack, { patchRun: run.runId! }));
    expect(outside.type).toBe(RollbackFailure.PrerequisiteFailed);
    expect(outside.message).toMatch(/maintenance window in progress: no maintenance window is in progress on main/);
    expect(await statesOf(pool, codes)).toEqual(state);
    expect(await rollbackLedger(pool)).toEqual({ restored: {}, markedRolledBack: [] });
  });
});

test('R-PI-11: a dossier whose restore point cannot be read fails alone, the rollback FAILS visibly with RollbackRunPartial (its result in details[0], the retry command); `--retry` after the fix restores it, the others once only', async () => {
  await withStack(5, async (stack, codes) => {
    const pool = stack.pools.get('main');
    const dir = tempDir('patches');
    await halfWayPatches(dir);
    await openWindow(pool);
    const before = await statesOf(pool, codes);
    const run = await runPatch(temporal.client, stack, { mode: 'integrate', dir, restorePoints: true });
    expect(run.state).toBe('completed');
    // DEMO0004's restore point file moved away
    const { rows } = await pool.query<{ file: string }>(
      `SELECT g.file FROM nightshift.patch_run_item i JOIN nightshift.backup_generation g ON g.id = i.restore_point WHERE i.run_id = $1 AND i.code = 'DEMO0004'`,
      [run.runId],
    );
    const file = rows[0]!.file;
    fs.renameSync(file, `${file}.away`);

    const err = await startRollback(temporal.client, stack, { patchRun: run.runId! }).then((h) => h.result()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failureTypeOf(err)).toBe(RollbackFailure.RunPartial);
    const partial = partialRollbackResult(err)!;
    expect(partial).toMatchObject({ state: 'partial', phase: 'partial', total: 5, restored: 4, failuresTotal: 1 });
    expect(partial.failures).toEqual([{ code: 'DEMO0004', status: 'failed', error: expect.stringMatching(/^restore point \d+ not restored: .*ENOENT/) }]);
    expect(partial.retryCommand).toBe(`nightshift patch rollback --target main --retry ${partial.runId}`);
    expect((await levels(pool)).DEMO0004).toBe(2);

    fs.renameSync(`${file}.away`, file);
    const retried = await runRollback(temporal.client, stack, { retryOf: partial.runId! });
    expect(retried).toMatchObject({ state: 'completed', total: 1, restored: 1, restoredCodes: ['DEMO0004'] });
    expect(await statesOf(pool, codes)).toEqual(before);
    expect((await rollbackLedger(pool)).restored).toEqual(Object.fromEntries(codes.map((c) => [c, 1])));
  });
});
