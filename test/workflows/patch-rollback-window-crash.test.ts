import crypto from 'node:crypto';
import { loginsRefusedAt } from '../../domain/maintenance';
import { startMaintenanceWindow } from '../../starts';
import type { MaintenanceWindowResult } from '../../workflows/maintenance-window.api';
import { waitFor } from './backup-batch-helpers';
import { chunkHolder, crashHarness, kill } from './crash-harness';
import { onlyWindow } from './maintenance-helpers';
import { demoDossiers, ledger, levels } from './patch-helpers';
import { block, halfWayPatchDir, rollbackLedger, rollbackWindowInput, statesOf } from './patch-rollback-helpers';

/**
 * R-PI-11 / R-MW-10 with a worker SIGKILLed during a window's automatic rollback: a deployment window
 * (payload backup+patch, onFailure rollback) over six dossiers, two of which the patch fails half-way; two
 * real worker processes on one task queue. Once the patch run is closed the test holds the failed dossiers'
 * patch-run items (row locks), so the window's rollback child blocks at the end of a restore (data in, its
 * ledger row not committed); the worker running that restore is killed there. The other worker takes over:
 * the window ends completed with access given back, each failed dossier restored exactly once and equal to
 * its pre-patch state, no patch applied twice.
 */

const crash = crashHarness('backup-batch-worker.ts');

jest.setTimeout(480_000);

const BLOCKED = ['DEMO0003', 'DEMO0005'];

test('R-PI-11 R-MW-10: window backup+patch --on-failure rollback, the worker restoring a failed dossier SIGKILLed mid-restore -> the window completes, access back, each failed dossier restored exactly once to its pre-patch state, no patch applied twice', async () => {
  const { stack, temporal } = crash;
  const pool = stack.pools.get('main');
  const codes = await demoDossiers(stack, 6);
  // under the backup folder: the folder every worker host shares
  const dir = await halfWayPatchDir(stack.config.backupDir, 'window-rollback-crash');
  await block(pool, BLOCKED);
  const before = await statesOf(pool, codes);
  const ledgersBefore = Object.fromEntries(await Promise.all(codes.map(async (c) => [c, await ledger(pool, c).catch(() => [])] as const)));
  const workers = [await crash.startWorker(), await crash.startWorker()];

  const input = rollbackWindowInput(dir, []);
  const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `rollback window crash ${crypto.randomUUID()}` });
  const windowEnded = async () => {
    const d = await h.describe();
    if (d.status.name !== 'RUNNING') await h.result();
    return undefined;
  };

  // the patch run closed (partial): the test takes the failed dossiers' patch-run items before the rollback child restores them
  const holder = await pool.connect();
  let released = false;
  try {
    const runId = await waitFor(
      'the patch run to close',
      async () => {
        const { rows } = await pool.query<{ id: string }>(`SELECT id::text FROM nightshift.patch_run WHERE state <> 'running'`);
        return rows[0]?.id ?? windowEnded();
      },
      300_000,
    );
    await holder.query('BEGIN');
    const held = await holder.query(`SELECT code FROM nightshift.patch_run_item WHERE run_id = $1 AND status = 'failed' ORDER BY code FOR UPDATE`, [runId]);
    expect(held.rows.map((r: { code: string }) => r.code)).toEqual(BLOCKED);
    // what the patch applied, before any rollback: the patched dossiers' ledgers must stay exactly so
    // only the dossiers the rollback never touches: a failed one's restore may hold its tables already, and waits for
    // the rows held above (reading it here would wait for that restore, which waits for this test: CI hung on it)
    const patchedCodes = codes.filter((c) => !BLOCKED.includes(c));
    const ledgersPatched = Object.fromEntries(await Promise.all(patchedCodes.map(async (c) => [c, await ledger(pool, c).catch(() => [])] as const)));
    expect(patchedCodes.map((c) => ledgersPatched[c]!.map((r) => [r.number, r.outcome]))).toEqual(
      patchedCodes.map(() => [
        [1, 'applied'],
        [2, 'applied'],
      ]),
    );

    await waitFor(
      'a restore of the window rollback waiting at its commit',
      async () => {
        const { rows } = await pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE nightshift.patch_rollback_item%'`);
        return rows.length ? true : windowEnded();
      },
      240_000,
    );
    const rollbackId = (await pool.query<{ workflow_id: string }>('SELECT workflow_id FROM nightshift.patch_rollback_run')).rows[0]!.workflow_id;
    expect(rollbackId).toMatch(/^patch-rollback\/main\//);
    const rollback = temporal.client.workflow.getHandle(rollbackId);
    const { busy, idle } = await chunkHolder(rollback, 'rollbackChunk', workers);
    expect(busy).toBeDefined();
    await kill(busy!);
    await holder.query('ROLLBACK');
    holder.release();
    released = true;

    const window = (await h.result()) as MaintenanceWindowResult;
    const details = (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';

    // the window ends in a known state: completed, the rollback child completed with both failed dossiers, access given back (R-MW-10)
    expect(window.status.state).toBe('completed');
    expect(window.status.payloadRun).toMatchObject({ kind: 'patch', state: 'partial' });
    expect(window.status.rollbackRun).toMatchObject({ kind: 'rollback', state: 'completed', restored: 2, workflowId: rollbackId });
    expect(details).toMatch(/On failure: rollback run \d+ `patch-rollback\/main\/[^`]+` \[open\]\([^)]+\): \*\*completed\*\* · \*\*2\*\* failed dossier\(s\) rolled back to their restore point \(R-PI-11\)/);
    expect(window.failures!.map((f) => f.code)).toEqual(BLOCKED);
    const row = await onlyWindow(pool);
    expect(row.state).toBe('completed');
    expect(loginsRefusedAt(row, new Date())).toBe(false);
    const rb = (await pool.query(`SELECT state, failed_only FROM nightshift.patch_rollback_run`)).rows;
    expect(rb).toEqual([{ state: 'completed', failed_only: true }]);

    // each failed dossier restored exactly once (one ok rollback item, rolled_back_at set once), equal to its pre-patch state
    expect(await rollbackLedger(pool)).toEqual({ restored: { DEMO0003: 1, DEMO0005: 1 }, markedRolledBack: BLOCKED });
    expect((await pool.query(`SELECT code, status FROM nightshift.patch_rollback_item ORDER BY code`)).rows).toEqual(BLOCKED.map((code) => ({ code, status: 'ok' })));
    expect(await statesOf(pool, BLOCKED)).toEqual(Object.fromEntries(BLOCKED.map((c) => [c, before[c]])));
    // no patch applied twice: the patched dossiers' ledgers as the patch left them (same rows, same applied_at), the rolled-back ones as before
    const ledgersAfter = Object.fromEntries(await Promise.all(codes.map(async (c) => [c, await ledger(pool, c).catch(() => [])] as const)));
    for (const c of codes) expect([c, ledgersAfter[c]]).toEqual([c, BLOCKED.includes(c) ? ledgersBefore[c] : ledgersPatched[c]]);
    const l = await levels(pool);
    expect(codes.map((c) => l[c])).toEqual(codes.map((c) => (BLOCKED.includes(c) ? 0 : 2)));

    await kill(idle, 'SIGTERM');
  } finally {
    if (!released) {
      await holder.query('ROLLBACK').catch(() => {});
      holder.release();
    }
  }
});
