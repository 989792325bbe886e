import { waitFor } from './backup-batch-helpers';
import { chunkHolder, crashHarness, kill } from './crash-harness';
import { demoDossiers } from './patch-helpers';
import { backUp, contentsOf, lose, restoreLedger, startRestore } from './backup-restore-run-helpers';
import type { RestoreRunResult } from '../../workflows/backup-restore-run.api';

/**
 * R-BK-11 with a worker SIGKILLed during a bulk restore: two real worker processes on one task queue; the restore of
 * DEMO0004 is held inside its transaction (its registry row locked, nothing committed) by the restore lock of its code,
 * which the test holds; the worker running it is killed there. The other worker takes the chunk over after the heartbeat
 * timeout: the run completes, every dossier restored exactly once (one ledger row ok each, written by the transaction
 * that restored the dossier) and equal to what was backed up.
 */

const crash = crashHarness('backup-batch-worker.ts');

jest.setTimeout(300_000);

test('R-BK-11: a worker SIGKILLed while a dossier is being restored -> the other worker finishes the restore run; each dossier restored exactly once, in the transaction of its ledger row, equal to its generation', async () => {
  const { stack, temporal } = crash;
  const pool = stack.pools.get('main');
  const codes = await demoDossiers(stack, 8);
  const before = await contentsOf(pool, codes);
  await backUp(stack, codes, '2026-12-01T10:00:00Z');
  await lose(pool, codes);
  const workers = [await crash.startWorker(), await crash.startWorker()];

  // the restore lock of DEMO0004's code (store/dossiers/lock-code-for-restore.ts): its restore waits there, inside its transaction
  const holder = await pool.connect();
  let released = false;
  try {
    await holder.query(`SELECT pg_advisory_lock(hashtext('nightshift.restore:' || lower('DEMO0004')))`);
    const handle = await startRestore(temporal.client, stack, { all: true, at: '2026-12-02T00:00:00Z', replace: false, from: 'auto', tuning: { chunkSize: 3, concurrency: 1 } });
    await waitFor(
      "DEMO0004's restore waiting inside its transaction",
      async () => {
        const { rows } = await pool.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory' AND pid <> pg_backend_pid()`);
        if (rows.length) return true;
        const d = await handle.describe();
        if (d.status.name !== 'RUNNING') await handle.result();
        return undefined;
      },
      120_000,
    );
    // DEMO0001..3 restored by the first chunk; DEMO0004 not
    expect((await pool.query(`SELECT code FROM nightshift.restore_run_item WHERE status = 'ok' ORDER BY code`)).rows.map((r) => r.code)).toEqual(['DEMO0001', 'DEMO0002', 'DEMO0003']);
    const { busy, idle } = await chunkHolder(handle, 'restoreRunChunk', workers);
    expect(busy).toBeDefined();
    await kill(busy!);
    await holder.query(`SELECT pg_advisory_unlock_all()`);
    holder.release();
    released = true;

    const result = (await handle.result()) as RestoreRunResult;
    expect(result).toMatchObject({ state: 'completed', total: 8, restored: 8, kept: 0, failuresTotal: 0, restoredCodes: codes });
    const ledger = await restoreLedger(pool);
    expect(ledger.ok).toEqual(Object.fromEntries(codes.map((c) => [c, 1])));
    expect(ledger.sameTransaction).toEqual(Object.fromEntries(codes.map((c) => [c, true])));
    expect(await contentsOf(pool, codes)).toEqual(before);
    await kill(idle, 'SIGTERM');
  } finally {
    if (!released) holder.release(true);
  }
});
