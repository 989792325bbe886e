import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { demoDossiers, levels, openWindow, runPatch } from '../workflows/patch-helpers';
import { block, halfWayPatchDir } from '../workflows/patch-rollback-helpers';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';

/** `nightshift patch status` after a rollback by hand of some dossiers a run had patched (R-PI-11, R-PI-9), spawned against the real servers. */

const ctx = useCliStack(120_000);
jest.setTimeout(300_000);

test('R-PI-11, R-PI-9: after a rollback by hand of ok dossiers, status still advises the retry of the failed ones and says revalidate brings the rolled-back ones back; both work', async () => {
  const { stack, cli } = ctx;
  const pool = stack.pools.get('main');
  await demoDossiers(stack, 6);
  const dir = await halfWayPatchDir(stack.config.backupDir, 'cli-status-rolled-back');
  await block(pool, ['DEMO0003']);
  await openWindow(pool);
  const worker = await createTestWorker(stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const run = await runPatch(ctx.temporal.client, stack, { mode: 'integrate', dir, restorePoints: true });
    expect(run.state).toBe('partial');
    const retry = `nightshift patch retry --target main --run ${run.runId}`;

    // QA: `patch rollback DEMO0050 DEMO0051` of two ok dossiers of a run with failed ones dropped its `retry them:` line
    const rollback = await cli(['patch', 'rollback', 'DEMO0005', 'DEMO0006', '--yes', '--wait']);
    expect(rollback.code).toBe(0);
    const rollbackId = /\(rollback run (\d+)\)/.exec(rollback.stdout)![1]!;
    expect(await levels(pool)).toMatchObject({ DEMO0005: 0, DEMO0006: 0 });
    const status = await cli(['patch', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(
        `^run ${run.runId} \\S+: integrate partial patches 1 → 2, 1 failed, rolled back by rollback run ${rollbackId} \\(2 dossier\\(s\\)\\)\n` +
          `  retry them: ${retry}\n` +
          '  .*\n' +
          `  2 dossier\\(s\\) it had patched were rolled back since \\(R-PI-11\\): the retry takes its failed dossiers only; ` +
          'bring them back up with: nightshift patch revalidate DEMO0005 DEMO0006 --target main$',
        'm',
      ),
    );
    const json = JSON.parse((await cli(['patch', 'status', '--run', String(run.runId), '--json'])).stdout);
    expect(json).toMatchObject({
      retryCommand: retry,
      rolledBack: { dossiers: 2, patched: 2, patchedBehind: 2, patchedBehindCodes: ['DEMO0005', 'DEMO0006'] },
      revalidateRolledBack: { count: 2, command: 'nightshift patch revalidate DEMO0005 DEMO0006 --target main', everyBelow: false },
    });

    // what it says works: the retry takes the failed dossier only, the revalidate the rolled-back ones
    await pool.query(`DROP TABLE ${qualified(schemaNameFor('DEMO0003'), 'blocker')}`);
    const retried = await cli(['patch', 'retry', '--run', String(run.runId), '--wait', '--json']);
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout).result).toMatchObject({ state: 'completed', total: 1, failed: 0 });
    expect(await levels(pool)).toMatchObject({ DEMO0003: 2, DEMO0005: 0, DEMO0006: 0 });
    const revalidated = await cli(['patch', 'revalidate', 'DEMO0005', 'DEMO0006', '--wait']);
    expect(revalidated.code).toBe(0);
    expect(Object.values(await levels(pool))).toEqual(Array(6).fill(2));
    // nothing left to advise for that run
    const after = await cli(['patch', 'status']);
    expect(after.stdout).toMatch(new RegExp(`^run ${run.runId} \\S+: integrate partial patches 1 → 2, 1 failed \\(brought up since\\), rolled back by rollback run ${rollbackId} \\(2 dossier\\(s\\)\\)$`, 'm'));
    expect(after.stdout).not.toContain(`retry them: ${retry}`);
    expect(after.stdout).not.toContain('were rolled back since');
  });
});
