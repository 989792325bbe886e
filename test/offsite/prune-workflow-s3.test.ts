import crypto from 'node:crypto';
import { startBackupPrune } from '../../starts';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import { sizeText } from '../../domain/text';
import { type BackupPruneResult, offsiteFinishedText, offsiteLeftText, pruneResult } from '../../workflows/backup-prune.api';
import { runCli, stackCliEnv } from '../helpers/cli';
import { createTestWorker } from '../helpers/env';
import { batchAndFollowUps, useOffsiteStack } from './offsite-stack';
import { createDossiers, modify } from '../workflows/backup-batch-helpers';

/**
 * R-BK-11 / R-BK-14: the prune workflow over generations the batch copied to versitygw, on the Temporal dev server:
 * the storage away during the prune fails those dossiers by name and generation, counts the generations it deleted
 * with the copies left, and the next prune finishes the job and says whose job it finished (not as its deletions).
 */

const off = useOffsiteStack('prune-wf/');
const pool = () => off.stack.pools.get('main');

const taskQueue = () => off.stack.config.temporal.taskQueue;

// the prune (and verification) the batch starts at its end, done before the test changes retention
const batch = () => batchAndFollowUps(off);
const prune = async () =>
  (await (await startBackupPrune(off.temporal.client, { target: 'main' }, { taskQueue: taskQueue(), workflowId: `backup-prune/main/${crypto.randomUUID()}` })).result()) as BackupPruneResult;
/** What the Web UI shows as the workflow's current details (markdown). */
const currentDetails = async (workflowId: string) =>
  (await off.temporal.client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';

test('R-BK-11 / R-BK-14: the prune workflow with the storage away: failures by dossier and generation, its deletions and bytes counted with the copies left; the next prune deletes those copies and says they were an earlier prune\'s', async () => {
  const codes = ['W1', 'W2'];
  await createDossiers(off.stack, codes.map((code) => ({ code })));
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batch()).toMatchObject({ state: 'completed', ok: 2 });
    for (const code of codes) await modify(pool(), code);
    expect(await batch()).toMatchObject({ state: 'completed', ok: 2 });
    const [olderW1, olderW2] = await Promise.all(codes.map(async (code) => (await dossierGenerations(pool(), code))[1]!));
    for (const g of [olderW1!, olderW2!]) expect(g).toMatchObject({ offsiteState: 'copied' });
    await setRetentionSetting(pool(), { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
    // the dry run says that the off-site copy goes with the generation
    const dry = await runCli(['backup', 'prune', '--dry-run'], stackCliEnv(off.stack), 90_000);
    expect(dry.stdout).toContain(`would delete W1 generation ${olderW1!.id} of `);
    expect(dry.stdout).toContain(`${olderW1!.file} and its off-site copy ${olderW1!.offsiteBucket}/${olderW1!.offsiteKey}\n`);

    await off.s3.kill();
    // as the operator runs it: a prune that did not complete exits 1, and says what it did and what is left
    const cli = await runCli(['backup', 'prune', '--wait'], stackCliEnv(off.stack), 90_000);
    expect(cli.code).toBe(1);
    // a prune that failed dossiers fails its workflow (BackupPrunePartial, R-OP-1) with the result in its details
    const awayId = /^started (backup-prune\/main\/\S+)/m.exec(cli.stdout)![1]!;
    const away = await pruneResult(off.temporal.client.workflow.getHandle(awayId).result());
    // it deleted the two generations (rows marked, files removed: their bytes freed); their copies are left
    const freed = olderW1!.size + olderW2!.size;
    expect(away).toMatchObject({ state: 'completed_with_errors', total: 2, done: 2, failed: 2, deleted: 2, bytesFreed: freed, offsiteDeleted: 0, recordedDeleted: 2, offsiteLeft: 2 });
    expect(cli.stdout).toContain(`deleted 2 generation(s), ${sizeText(freed)} freed; kept 2\n${offsiteLeftText(2)}\n`);
    expect(cli.stdout).toContain('2 / 2 dossier(s), 2 failed: completed_with_errors');
    expect(cli.stdout).toContain('the prune did not finish: once fixed, the next prune finishes what failed: nightshift backup prune --target main');
    expect(away.failures.map((f) => f.code).sort()).toEqual(codes);
    for (const g of [olderW1!, olderW2!]) {
      const f = away.failures.find((x) => x.code === g.code)!;
      expect(f.error).toContain(`generation ${g.id} (${g.snapshotAt.toISOString()}), its copy: off-site storage failed while deleting ${g.offsiteKey} (ECONNREFUSED`);
      expect((await dossierGenerations(pool(), g.code, { deleted: true })).find((x) => x.id === g.id)).toMatchObject({ offsiteState: 'copied', deletedAt: expect.any(Date) as Date });
    }

    // its dry run counts the copies left to delete (drill B, session 35: "would delete 0 generation(s)" and nothing of them)
    const dryLeft = await runCli(['backup', 'prune', '--dry-run'], stackCliEnv(off.stack), 90_000);
    expect(dryLeft.stdout).toContain(
      "would delete 2 off-site copies of generations pruned before, left when the storage refused or was away ('nightshift backup info' counts them by bucket)\n",
    );
    expect(JSON.parse((await runCli(['backup', 'prune', '--dry-run', '--json'], stackCliEnv(off.stack), 90_000)).stdout)).toMatchObject({ deleted: 0, offsiteLeft: 2 });

    await off.s3.restart();
    // the next prune deletes no generation: it finishes the earlier prune's job, and says whose (CLI, result, Web UI)
    const next = await runCli(['backup', 'prune', '--wait'], stackCliEnv(off.stack), 90_000);
    expect(next.code).toBe(0);
    const laterId = /^started (backup-prune\/main\/\S+)/m.exec(next.stdout)![1]!;
    const later = await pruneResult(off.temporal.client.workflow.getHandle(laterId).result());
    expect(later).toMatchObject({ state: 'completed', failed: 0, deleted: 0, bytesFreed: 0, offsiteDeleted: 0, offsiteFinished: 2, finishedFor: [awayId], recordedDeleted: 0, offsiteLeft: 0 });
    expect(next.stdout).toContain(`deleted 0 generation(s), 0 B freed; kept 2\n${offsiteFinishedText(2, [awayId])}\n`);
    expect(offsiteFinishedText(2, [awayId])).toBe(`finished removing 2 off-site copies of generations pruned earlier (${awayId})`);
    const details = await currentDetails(laterId);
    expect(details).toContain('Generations deleted: 0 (0 B)');
    expect(details).toContain(offsiteFinishedText(2, [awayId]));
    // and once done, a repeat has nothing to say of them
    expect(await prune()).toMatchObject({ state: 'completed', deleted: 0, offsiteDeleted: 0, offsiteFinished: 0 });
    for (const g of [olderW1!, olderW2!]) expect(await off.store.head(g.offsiteKey!)).toBeUndefined();
    for (const code of codes) expect(await off.store.listDossier('main', code)).toHaveLength(1);
  });
});
