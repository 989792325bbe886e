import fs from 'node:fs';
import path from 'node:path';
import { STORE_MARKER_FILE, SharedFolderError, assertSharedFolders, claimSharedFolder, createStoreMarker, workerFolders } from '../../shared-store/marker';
import { createVerifyActivities, offsiteCheckOf } from '../../activities/verify';
import { lazyOffsiteStore } from '../../offsite/lazy';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { runCli, stackCliEnv } from '../helpers/cli';
import { createTestWorker } from '../helpers/env';
import { batchAndFollowUps, useOffsiteStack, verifyCodes } from './offsite-stack';
import { createDossiers } from '../workflows/backup-batch-helpers';

/**
 * The night the backup disk is lost (issue 10's shared store, R-BK-14, R-BK-11): workers refuse the new, empty folder
 * (marker missing) and name `nightshift store adopt`; the operator adopts it (`--yes`), workers start again, a restore
 * reads the off-site copy, the nightly batch takes again the dossiers whose archive a verification found missing, and
 * `backup run --all` writes every dossier's archive on the new disk. On real servers: the
 * Temporal dev server, PostgreSQL, versitygw; the CLI as a process.
 */

const off = useOffsiteStack('lost-disk/', { keepEveryGeneration: true });
const pool = () => off.stack.pools.get('main');
const cli = (args: string[]) => runCli(args, stackCliEnv(off.stack), 120_000);

test('R-BK-14 / R-BK-11: the backup disk lost: the worker refuses and names store adopt; adopt shows, then marks with --yes; a restore reads the copy; backup run --all fills the new disk', async () => {
  const folders = await workerFolders(off.stack.config, pool(), 'main');
  fs.mkdirSync(folders.backups, { recursive: true });
  fs.mkdirSync(folders.documents, { recursive: true });
  expect((await claimSharedFolder(pool(), 'backups', folders.backups)).state).toBe('ok');
  expect((await claimSharedFolder(pool(), 'documents', folders.documents)).state).toBe('ok');
  const recorded = fs.readFileSync(path.join(folders.backups, STORE_MARKER_FILE), 'utf8');

  await createDossiers(off.stack, [{ code: 'LD1' }, { code: 'LD2' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 2 });
  });
  const [lost] = await dossierGenerations(pool(), 'LD1');
  expect(lost).toMatchObject({ offsiteState: 'copied' });

  // the disk is gone: no folder at all (a share not mounted?) is refused by adopt too, and not made
  fs.rmSync(folders.backups, { recursive: true });
  const absent = await cli(['store', 'adopt', '--yes']);
  expect(absent.code).toBe(1);
  expect(absent.stdout).toContain(`backup folder ${folders.backups}: the folder does not exist (a share not mounted here?): refused`);
  expect(fs.existsSync(folders.backups)).toBe(false);
  // a new disk is mounted there, empty
  fs.mkdirSync(folders.backups);
  const refused = await assertSharedFolders(off.stack.config, off.stack.pools).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(SharedFolderError);
  expect((refused as Error).message).toContain("(marker missing): mount the shared folder there");
  expect((refused as Error).message).toContain("the old folder lost: 'nightshift store adopt --target main' marks this one");

  // without --yes: what it would do, nothing written
  const plan = await cli(['store', 'adopt']);
  expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 0, stderr: '' });
  expect(plan.stdout).toContain(`backup folder ${folders.backups}: marker missing (the recorded store is `);
  expect(plan.stdout).toContain('would be marked with it');
  expect(plan.stdout).toContain(`documents folder ${folders.documents}: is the shared store`);
  expect(plan.stdout).toMatch(/kept generations recorded: 2, 2 with an off-site copy/);
  expect(plan.stdout).toContain('run again with --yes');
  expect(fs.readdirSync(folders.backups)).toEqual([]);

  const done = await cli(['store', 'adopt', '--yes', '--json']);
  expect({ code: done.code, stderr: done.stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(done.stdout)).toMatchObject({ target: 'main', written: true, folders: [{ kind: 'backups', state: 'ok', adopted: true }, { kind: 'documents', state: 'ok' }] });
  expect(JSON.parse(fs.readFileSync(path.join(folders.backups, STORE_MARKER_FILE), 'utf8')).storeId).toBe(JSON.parse(recorded).storeId);
  await expect(assertSharedFolders(off.stack.config, off.stack.pools)).resolves.toHaveLength(2);
  // a second adopt has nothing to do
  const again = await cli(['store', 'adopt', '--yes']);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain(`backup folder ${folders.backups}: is the shared store`);

  const worker2 = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker2.runUntil(async () => {
    // R-BK-13: a verification checks the copies of the files that are gone: LD1's reads back whole (restorable, said
    // so), LD2's object was deleted too (recorded lost: nothing is left of that generation)
    const [ld2] = await dossierGenerations(pool(), 'LD2');
    await off.store.deleteObject(ld2!.offsiteKey!);
    const found = await verifyCodes(off, ['LD1', 'LD2']);
    expect(found).toMatchObject({ state: 'problems', problems: 2 });
    const items = (await pool().query<{ code: string; status: string; error: string }>('SELECT code, status, error FROM nightshift.verify_run_item WHERE run_id = $1 ORDER BY code', [found.runId])).rows;
    expect(items).toEqual([
      { code: 'LD1', status: 'missing', error: `le fichier ${lost!.file} n'existe plus; copie externe ${lost!.offsiteBucket}/${lost!.offsiteKey} vérifiée : une restauration la lit` },
      { code: 'LD2', status: 'missing', error: expect.stringMatching(/^copie perdue, pas recopiée \(l'archive locale est corrompue ou absente\); le fichier .* n'existe plus; copie externe \S+ : no object /) as string },
    ]);
    expect((await dossierGenerations(pool(), 'LD2'))[0]).toMatchObject({ verifyState: 'missing', offsiteState: 'failed' });
    expect((await dossierGenerations(pool(), 'LD1'))[0]).toMatchObject({ verifyState: 'missing', offsiteState: 'copied' });
    expect(found.nextSteps).toEqual([
      { text: 'back up these dossiers again', command: 'nightshift backup run --all --only LD2 --target main' },
      { text: expect.stringMatching(/^the local files are gone but their off-site copies read back whole/) as string, command: 'nightshift backup run --all --only LD1 --target main' },
    ]);
    // told once: the next verification finds LD1 as it was, restorable from its copy: no problem (no mail), still said
    const again = await verifyCodes(off, ['LD1']);
    expect(again).toMatchObject({ state: 'completed', ok: 1, problems: 0 });
    const line = (await pool().query<{ status: string; error: string }>('SELECT status, error FROM nightshift.verify_run_item WHERE run_id = $1', [again.runId])).rows;
    expect(line).toEqual([{ status: 'ok', error: `le fichier ${lost!.file} n'existe plus (signalé déjà); copie externe ${lost!.offsiteBucket}/${lost!.offsiteKey} vérifiée : une restauration la lit` }]);
    expect((await dossierGenerations(pool(), 'LD1'))[0]).toMatchObject({ verifyState: 'missing', offsiteState: 'copied' });

    const r = await cli(['backup', 'restore', 'LD1', '--at', '2099-01-01', '--as', 'LD1R', '--wait']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`generation ${lost!.id}'s file is missing (backup verify): its off-site copy is restored`);
    expect(r.stdout).toContain(`restored dossier LD1R from generation ${lost!.id} (its off-site copy ${lost!.offsiteBucket}/${lost!.offsiteKey})`);
    // R-BK-11, R-BK-13: the nightly batch (modified dossiers only) takes the unmodified LD1 and LD2 again, their newest
    // archive found missing, and LD1R, never backed up; the next night, nothing of them
    const nightly = await cli(['backup', 'run', '--wait', '--json']);
    expect(nightly.code).toBe(0);
    expect(JSON.parse(nightly.stdout).result).toMatchObject({ state: 'completed', ok: 3, failed: 0 });
    const next = await cli(['backup', 'run', '--wait', '--json']);
    expect(next.code).toBe(0);
    expect(JSON.parse(next.stdout).result).toMatchObject({ state: 'completed', ok: 0, failed: 0 });
    const all = await cli(['backup', 'run', '--all', '--wait', '--json']);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout).result).toMatchObject({ state: 'completed', ok: 3, failed: 0 });
  });
  // a worker without an off-site store says it could not check the copy (and changes nothing of it)
  const bare = createVerifyActivities({ config: { ...off.stack.config, offsite: undefined }, pools: off.stack.pools });
  const claim = await bare.claimVerifyRun({ target: 'main', codes: ['LD1'], full: false, trigger: 'manual', workflowId: `backup-verify/main/bare-${Date.now()}` });
  const page = await bare.selectVerifyPage({ target: 'main', scope: claim.scope, cursor: 0, limit: 10 });
  await bare.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 1, timeBudgetMs: 60_000 });
  const unchecked = (await pool().query<{ error: string }>('SELECT error FROM nightshift.verify_run_item WHERE run_id = $1 AND generation_id = $2', [claim.runId, lost!.id])).rows;
  expect(unchecked).toEqual([{ error: `le fichier ${lost!.file} n'existe plus; copie externe ${lost!.offsiteBucket}/${lost!.offsiteKey} non vérifiée : pas de stockage externe sur ce worker (NIGHTSHIFT_OFFSITE_S3_BUCKET)` }]);
  expect((await dossierGenerations(pool(), 'LD1', { deleted: true })).find((g) => g.id === lost!.id)).toMatchObject({ offsiteState: 'copied' });
  // what was told stays told: the generation's row keeps it, and a worker that can check the copy again does not
  // report it as news (no mail)
  expect((await dossierGenerations(pool(), 'LD1', { deleted: true })).find((g) => g.id === lost!.id)!.verifyError).toMatch(/une restauration la lit$/);
  const full = createVerifyActivities({ config: off.stack.config, pools: off.stack.pools, offsiteCheck: offsiteCheckOf(lazyOffsiteStore(off.stack.config.offsite)) });
  const claim2 = await full.claimVerifyRun({ target: 'main', codes: ['LD1'], full: false, trigger: 'manual', workflowId: `backup-verify/main/back-${Date.now()}` });
  const page2 = await full.selectVerifyPage({ target: 'main', scope: claim2.scope, cursor: 0, limit: 10 });
  await full.verifyChunk({ target: 'main', runId: claim2.runId, codes: page2.codes, sample: claim2.sample, concurrency: 1, timeBudgetMs: 60_000 });
  const back = (await pool().query<{ status: string }>('SELECT status, error FROM nightshift.verify_run_item WHERE run_id = $1 AND generation_id = $2', [claim2.runId, lost!.id])).rows;
  expect(back).toEqual([{ status: 'ok', error: expect.stringContaining("n'existe plus (signalé déjà)") as string }]);

  for (const code of ['LD1', 'LD2', 'LD1R']) {
    const [newest] = await dossierGenerations(pool(), code);
    expect(fs.existsSync(newest!.file)).toBe(true);
    expect(newest!.file.startsWith(folders.backups)).toBe(true);
  }
});

test('store adopt refuses a folder holding another store\'s marker (exit 1) and writes nothing', async () => {
  const folders = await workerFolders(off.stack.config, pool(), 'main');
  const mine = fs.readFileSync(path.join(folders.backups, STORE_MARKER_FILE), 'utf8');
  fs.rmSync(path.join(folders.backups, STORE_MARKER_FILE));
  await createStoreMarker(folders.backups, 'f'.repeat(32), 'another store');
  try {
    const r = await cli(['store', 'adopt', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`backup folder ${folders.backups}: marker different (the recorded store is `);
    expect(r.stdout).toContain("refused, it may hold another store's files");
    expect(JSON.parse(fs.readFileSync(path.join(folders.backups, STORE_MARKER_FILE), 'utf8')).storeId).toBe('f'.repeat(32));
  } finally {
    fs.writeFileSync(path.join(folders.backups, STORE_MARKER_FILE), mine);
  }
});
