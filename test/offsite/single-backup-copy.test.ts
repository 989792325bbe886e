import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createBackupActivities } from '../../activities/backup';
import { startBackupDossier } from '../../starts';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { createActivities } from '../../workers/activities';
import { backupDossierWorkflowId } from '../../workflows/backup-dossier.api';
import { runCli, stackCliEnv } from '../helpers/cli';
import { createTestWorker, requireEnv } from '../helpers/env';
import { createDossiers, ledger, modify } from '../workflows/backup-batch-helpers';
import { batchAndFollowUps, useOffsiteStack } from './offsite-stack';

/**
 * R-BK-14, R-BK-5: a single-dossier backup (`backup dossier`, `backup trigger`: the backup-dossier workflow) copies
 * its archive off-site as the batch copies its own (same key layout, copied or failed recorded on the generation),
 * so that the EchangePrest and Cloture generations are in the bucket as local retention keeps them; and the batch
 * copies the kept generations whose copy was never made (`none`), only when it copies off-site. On real servers:
 * the Temporal dev server, PostgreSQL, versitygw; the CLI as a process of its own.
 */

const PREFIX = 'single-copy/';
const off = useOffsiteStack(PREFIX, { keepEveryGeneration: true });
const pool = () => off.stack.pools.get('main');
const cli = (args: string[]) => runCli(args, stackCliEnv(off.stack), 120_000);
const pending = async () => (await pool().query<{ code: string }>('SELECT code FROM nightshift.backup_offsite_pending ORDER BY code')).rows.map((r) => r.code);

test('R-BK-14, R-BK-5: `backup dossier --reason cloture` and `--reason echange-prestataire` copy the archive to <prefix><target>/<code>/<folder>/<file>, recorded copied', async () => {
  await createDossiers(off.stack, [{ code: 'SC1' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // its normal archive first: a dossier backed up without one is left for the next batch to back up (pending)
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 1 });
    const b = await cli(['backup', 'dossier', 'SC1', '--reason', 'cloture', '--wait']);
    expect(b).toMatchObject({ code: 0, stderr: '' });
    const [clo] = await dossierGenerations(pool(), 'SC1', { kind: 'Cloture' });
    const key = `${PREFIX}main/SC1/Cloture/${path.basename(clo!.file)}`;
    expect(clo).toMatchObject({ offsiteState: 'copied', offsiteBucket: off.s3.bucket, offsiteKey: key, offsiteError: null });
    expect(b.stdout).toContain(`\ncopied off-site to ${off.s3.bucket}/${key}\n`);
    expect(await off.store.checkObject(key, { size: clo!.size, sha256: clo!.sha256! }, { readBack: true })).toMatchObject({ status: 'ok' });

    // the workflow's own result (what `--json` and the gate's trigger get)
    const handle = await startBackupDossier(off.temporal.client, { target: 'main', code: 'SC1', reason: 'echange-prestataire' }, {
      taskQueue: off.stack.config.temporal.taskQueue,
      workflowId: `${backupDossierWorkflowId('main', 'SC1')}/${crypto.randomUUID()}`,
    });
    const result = await handle.result();
    // the copy is behind its patch marker, and the new history replays against the code that wrote it
    const history = await handle.fetchHistory();
    expect(history.events?.filter((e) => e.markerRecordedEventAttributes).length).toBe(1);
    await expect(Worker.runReplayHistory({ workflowBundle: { codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') } }, history, handle.workflowId)).resolves.toBeUndefined();
    const [ex] = await dossierGenerations(pool(), 'SC1', { kind: 'EchangePrest' });
    expect(result).toMatchObject({ generationId: ex!.id, offsite: { state: 'copied', bucket: off.s3.bucket, key: `${PREFIX}main/SC1/EchangePrest/${path.basename(ex!.file)}` } });
    expect(ex).toMatchObject({ offsiteState: 'copied', offsiteKey: result.offsite?.state === 'copied' ? result.offsite.key : '?' });
    const [normal] = await dossierGenerations(pool(), 'SC1', { kind: 'normal' });
    expect((await off.store.listDossier('main', 'SC1')).map((o) => o.name).sort()).toEqual([`Cloture/${path.basename(clo!.file)}`, `EchangePrest/${path.basename(ex!.file)}`, path.basename(normal!.file)].sort());
    expect(await pending()).toEqual([]);
  });
}, 300_000);

test('R-BK-14: the storage away: the backup is done (exit 0), its generation kept and recorded failed, the CLI says so; the next batch copies it first', async () => {
  await createDossiers(off.stack, [{ code: 'SC2' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // SC2 copied by a batch first, so that only the single backup's copy is left to make
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 1 });
    expect(await pending()).toEqual([]);
    await off.s3.kill();
    try {
      const b = await cli(['backup', 'dossier', 'SC2', '--reason', 'echange-prestataire', '--wait']);
      expect(b).toMatchObject({ code: 0, stderr: '' });
      expect(b.stdout).toMatch(/\noff-site copy failed: off-site storage failed while uploading single-copy\/main\/SC2\/EchangePrest\/BSC2\.[^ ]+\.SVG \(ECONNREFUSED/);
      expect(b.stdout).toContain('\nthe backup is kept, its copy recorded failed: the next backup batch copies it first (nightshift backup list SC2 --target main)\n');
      const [ex] = await dossierGenerations(pool(), 'SC2', { kind: 'EchangePrest' });
      expect(ex).toMatchObject({ offsiteState: 'failed', offsiteError: expect.stringMatching(/^off-site copy failed: /) as string });
      expect(fs.existsSync(ex!.file)).toBe(true);
      expect(await pending()).toEqual(['SC2']);
    } finally {
      await off.s3.restart();
    }

    // unmodified, taken for its copy: no new archive, the EchangePrest generation copied
    const next = await batchAndFollowUps(off);
    expect(next).toMatchObject({ state: 'completed', total: 1, ok: 1 });
    expect((await ledger(pool(), next.runId)).map((i) => [i.code, i.status])).toEqual([['SC2', 'ok']]);
    const [ex] = await dossierGenerations(pool(), 'SC2', { kind: 'EchangePrest' });
    expect(ex).toMatchObject({ offsiteState: 'copied', offsiteKey: `${PREFIX}main/SC2/EchangePrest/${path.basename(ex!.file)}` });
    expect(await off.store.checkObject(ex!.offsiteKey!, { size: ex!.size, sha256: ex!.sha256! }, { readBack: true })).toMatchObject({ status: 'ok' });
    expect(await dossierGenerations(pool(), 'SC2', { kind: 'normal' })).toHaveLength(1);
    expect(await pending()).toEqual([]);
  });
}, 300_000);

test('R-BK-14, R-BK-5: a kept generation whose copy was never made (`none`) is copied by the next batch that copies off-site, not by a batch without a bucket', async () => {
  await createDossiers(off.stack, [{ code: 'SC3' }]);
  const noBucket = { ...off.stack.config, offsite: undefined };
  const copying = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await copying.runUntil(async () => expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 1 }));
  // a Cloture archive written by a worker without a bucket (as single backups were before they copied)
  const closing = await createBackupActivities({ config: noBucket, pools: off.stack.pools }).backupDossier({ target: 'main', code: 'SC3', reason: 'cloture' });
  const clo = (await dossierGenerations(pool(), 'SC3', { kind: 'Cloture' }))[0]!;
  expect(clo).toMatchObject({ id: closing.generationId, offsiteState: 'none' });
  // pending (migration 0025): a kept archive whose copy was never made, though its newest normal one is copied
  expect(await pending()).toEqual(['SC3']);

  // a batch on a worker without a bucket backs SC3 up and copies nothing
  await modify(pool(), 'SC3');
  const bare = await createTestWorker(off.stack, off.temporal.nativeConnection, { activities: createActivities({ config: noBucket, pools: off.stack.pools }) });
  await bare.runUntil(async () => expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', total: 1, ok: 1 }));
  expect((await dossierGenerations(pool(), 'SC3', { kind: 'Cloture' }))[0]).toMatchObject({ id: clo.id, offsiteState: 'none', offsiteKey: null });
  expect((await dossierGenerations(pool(), 'SC3', { kind: 'normal' }))[0]).toMatchObject({ offsiteState: 'none' });
  expect(await off.store.listDossier('main', 'SC3')).toHaveLength(1);

  // the next batch that copies: its newest archive (pending, unmodified) and the Cloture one
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const next = await batchAndFollowUps(off);
    expect(next).toMatchObject({ state: 'completed', total: 1, ok: 1 });
    const after = await dossierGenerations(pool(), 'SC3');
    expect(after.map((g) => [g.kind, g.offsiteState])).toEqual([
      ['normal', 'copied'],
      ['Cloture', 'copied'],
      ['normal', 'copied'],
    ]);
    const copied = after.find((g) => g.id === clo.id)!;
    expect(copied.offsiteKey).toBe(`${PREFIX}main/SC3/Cloture/${path.basename(clo.file)}`);
    expect(await off.store.checkObject(copied.offsiteKey!, { size: copied.size, sha256: copied.sha256! }, { readBack: true })).toMatchObject({ status: 'ok' });
    expect(await off.store.listDossier('main', 'SC3')).toHaveLength(3);
    expect(await pending()).toEqual([]);
  });
}, 300_000);

test('R-BK-14: a dossier whose newest archive is copied, modified: its kept `none` generation is copied along with its new archive', async () => {
  await createDossiers(off.stack, [{ code: 'SC4' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 1 });
    const ex = await createBackupActivities({ config: { ...off.stack.config, offsite: undefined }, pools: off.stack.pools }).backupDossier({ target: 'main', code: 'SC4', reason: 'echange-prestataire' });
    expect(await pending()).toEqual(['SC4']);
    await modify(pool(), 'SC4');
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', total: 1, ok: 1 });
    const after = await dossierGenerations(pool(), 'SC4');
    expect(after.map((g) => [g.kind, g.offsiteState])).toEqual([
      ['normal', 'copied'],
      ['EchangePrest', 'copied'],
      ['normal', 'copied'],
    ]);
    expect(after[1]).toMatchObject({ id: ex.generationId, offsiteKey: expect.stringMatching(/^single-copy\/main\/SC4\/EchangePrest\/BSC4\./) as string });
  });
}, 300_000);

test('R-BK-14, R-BK-5: a dossier NOT modified whose kept EchangePrest archive has no copy (`none`) is pending (migration 0025): the next batch that copies makes the copy', async () => {
  await createDossiers(off.stack, [{ code: 'SC5' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 1 });
    const ex = await createBackupActivities({ config: { ...off.stack.config, offsite: undefined }, pools: off.stack.pools }).backupDossier({ target: 'main', code: 'SC5', reason: 'echange-prestataire' });
    expect(await pending()).toEqual(['SC5']);
    // not modified since: taken for its copy alone
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', total: 1, ok: 1 });
    const copied = (await dossierGenerations(pool(), 'SC5', { kind: 'EchangePrest' }))[0]!;
    expect(copied).toMatchObject({ id: ex.generationId, offsiteState: 'copied' });
    expect(await off.store.checkObject(copied.offsiteKey!, { size: copied.size, sha256: copied.sha256! }, { readBack: true })).toMatchObject({ status: 'ok' });
    expect(await pending()).toEqual([]);
  });
}, 300_000);
