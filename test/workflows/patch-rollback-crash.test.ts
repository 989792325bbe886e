import { partialPatchResult, type PatchRunResult } from '../../workflows/patch-integration.api';
import type { RollbackRunResult } from '../../workflows/patch-rollback.api';
import { waitFor } from './backup-batch-helpers';
import { chunkHolder, crashHarness, kill } from './crash-harness';
import { demoDossiers, openWindow, startRun } from './patch-helpers';
import { block, halfWayPatchDir, rollbackLedger, startRollback, statesOf } from './patch-rollback-helpers';

/**
 * R-PI-11 with a worker SIGKILLed during a rollback: two real worker processes on one task queue; the
 * restore of one dossier is held at its very end (its data in, its ledger row not yet committed) by a row
 * lock the test holds, the worker running it is killed there. The other worker takes the chunk over after
 * the heartbeat timeout: the rollback completes, every dossier restored exactly once and equal to its
 * pre-patch state.
 */

const crash = crashHarness('backup-batch-worker.ts');

jest.setTimeout(300_000);

test('R-PI-11 R-PI-8: a worker SIGKILLed while a dossier is restored (data in, not committed) -> the other worker finishes the rollback; each dossier restored exactly once, equal to its pre-patch state', async () => {
  const { stack, temporal } = crash;
  const pool = stack.pools.get('main');
  const codes = await demoDossiers(stack, 6);
  await openWindow(pool);
  // under the backup folder: the folder every worker host shares
  const dir = await halfWayPatchDir(stack.config.backupDir, 'rollback-crash');
  await block(pool, ['DEMO0005']);
  const before = await statesOf(pool, codes);
  const workers = [await crash.startWorker(), await crash.startWorker()];

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
        const { rows } = await pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE nightshift.patch_rollback_item%'`);
        if (rows.length) return true;
        const d = await handle.describe();
        if (d.status.name !== 'RUNNING') await handle.result();
        return undefined;
      },
      120_000,
    );
    const { busy, idle } = await chunkHolder(handle, 'rollbackChunk', workers);
    expect(busy).toBeDefined();
    await kill(busy!);
    await holder.query('ROLLBACK');
    holder.release();

    const result = (await handle.result()) as RollbackRunResult;
    expect(result).toMatchObject({ state: 'completed', total: 6, restored: 6, failuresTotal: 0 });
    expect(await rollbackLedger(pool)).toEqual({ restored: Object.fromEntries(codes.map((c) => [c, 1])), markedRolledBack: codes });
    expect(await statesOf(pool, codes)).toEqual(before);
    await kill(idle, 'SIGTERM');
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
  }
});
