import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isRestorable } from '../../domain/retention';
import { startBackupVerify } from '../../starts';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import { markVerifyMail } from '../../store/verify/mark-mail';
import { type BackupVerifyResult, verifyResult } from '../../workflows/backup-verify.api';
import { runCli, stackCliEnv } from '../helpers/cli';
import { createTestWorker } from '../helpers/env';
import { batchAndFollowUps, useOffsiteStack, verifyCodes } from './offsite-stack';
import { createDossiers, modify } from '../workflows/backup-batch-helpers';
import { damageInPlace } from '../helpers/damage';

/**
 * R-BK-13, R-BK-14: a generation whose local file is found corrupt is restorable only through its off-site copy, and
 * retention counts on that copy: the verification checks it then too. A copy gone is recorded lost and reported (the
 * prune then keeps an older generation that can be restored); a copy whole is said to be what a restore reads; a
 * storage that cannot answer changes nothing. On real servers: the Temporal dev server, PostgreSQL, versitygw; the CLI
 * as a process.
 */

const off = useOffsiteStack('verify-corrupt/', { keepEveryGeneration: true });
const pool = () => off.stack.pools.get('main');
const cli = (args: string[]) => runCli(args, stackCliEnv(off.stack), 120_000);


async function verifyFull(codes: string[]): Promise<BackupVerifyResult> {
  const handle = await startBackupVerify(off.temporal.client, { target: 'main', codes, full: true }, { taskQueue: off.stack.config.temporal.taskQueue, workflowId: `backup-verify/main/${crypto.randomUUID()}` });
  return verifyResult(handle.result());
}

const items = async (runId: number) =>
  (await pool().query<{ generation_id: string; code: string; status: string; error: string | null }>('SELECT generation_id, code, status, error FROM nightshift.verify_run_item WHERE run_id = $1 ORDER BY code, generation_id', [runId])).rows;
const itemOf = async (runId: number, generationId: number) => (await items(runId)).find((i) => i.generation_id === String(generationId));
const generation = async (code: string, id: number) => (await dossierGenerations(pool(), code, { deleted: true })).find((g) => g.id === id)!;

test("R-BK-13, R-BK-14: the newest file corrupt and its object deleted by hand: a full verification records the copy lost and reports it; with last=1 the prune keeps the older generation, which the restore reads; a corrupt file whose copy is whole stays restorable by it", async () => {
  await createDossiers(off.stack, [{ code: 'VC1' }, { code: 'VC2' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 2 });
    await modify(pool(), 'VC1');
    await modify(pool(), 'VC2');
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 2 });
    const [newest, older] = await dossierGenerations(pool(), 'VC1');
    const [whole, wholeOlder] = await dossierGenerations(pool(), 'VC2');
    for (const g of [newest, older, whole, wholeOlder]) expect(g).toMatchObject({ verifyState: 'ok', offsiteState: 'copied' });

    // the tester's night: VC1's newest file damaged AND its object deleted; VC2's newest file damaged, its object intact
    damageInPlace(newest!.file, 1);
    await off.store.deleteObject(newest!.offsiteKey!);
    damageInPlace(whole!.file, 1);

    const found = await verifyFull(['VC1', 'VC2']);
    expect(found).toMatchObject({ state: 'problems', total: 4, ok: 2, problems: 2 });
    const lostItem = (await itemOf(found.runId, newest!.id))!;
    expect(lostItem.status).toBe('corrupt');
    const lostLine = lostItem.error!;
    expect(lostLine).toMatch(/^copie perdue, pas recopiée \(l'archive locale est corrompue ou absente\); SHA-256 \S+ au lieu de \S+ à l'écriture; /);
    expect(lostLine.endsWith(`; copie externe ${newest!.offsiteBucket}/${newest!.offsiteKey} : no object ${newest!.offsiteKey} in bucket ${newest!.offsiteBucket}`)).toBe(true);
    const wholeLine = (await itemOf(found.runId, whole!.id))!;
    expect(wholeLine.status).toBe('corrupt');
    expect(wholeLine.error).toMatch(/^SHA-256 \S+ au lieu de \S+ à l'écriture; /);
    expect(wholeLine.error!.endsWith(`; copie externe ${whole!.offsiteBucket}/${whole!.offsiteKey} vérifiée : une restauration la lit`)).toBe(true);
    // the run's details and the report say it
    expect(found.failures.find((f) => f.code === 'VC1')!.error).toContain(": copie perdue, pas recopiée (l'archive locale est corrompue ou absente); ");
    const report = fs.readFileSync(found.reportPath!, 'utf8');
    expect(report).toContain(`(${newest!.file}) : Sauvegarde corrompue. copie perdue, pas recopiée (l'archive locale est corrompue ou absente); `);
    expect(report).toContain(`(${whole!.file}) : Sauvegarde corrompue. SHA-256 `);
    expect(found.nextSteps).toEqual([{ text: 'back up these dossiers again', command: 'nightshift backup run --all --only VC1,VC2 --target main' }]);

    // the rows: VC1's newest is restorable no more (retention stops counting on it); VC2's is, through its copy
    const lostRow = await generation('VC1', newest!.id);
    expect(lostRow).toMatchObject({ verifyState: 'corrupt', offsiteState: 'failed', offsiteKey: newest!.offsiteKey, offsiteError: expect.stringMatching(/^off-site copy missing or different: \(verify run \d+\) /) as string });
    expect(isRestorable(lostRow)).toBe(false);
    const wholeRow = await generation('VC2', whole!.id);
    expect(wholeRow).toMatchObject({ verifyState: 'corrupt', offsiteState: 'copied' });
    expect(isRestorable(wholeRow)).toBe(true);

    // told once: the next full verification still reports VC1's damaged file, no more as news, and nothing changes
    // (told: the run's mail carried it; this stack sets no recipients, so the mail is taken as sent, drill F)
    await markVerifyMail(pool(), found.runId, 'sent');
    const again = await verifyFull(['VC1']);
    expect(again).toMatchObject({ state: 'problems', problems: 1 });
    expect((await itemOf(again.runId, newest!.id))!.error).toMatch(/^\(signalé déjà\) SHA-256 /);
    expect(await generation('VC1', newest!.id)).toMatchObject({ verifyState: 'corrupt', offsiteState: 'failed' });

    // retention last=1: VC1 keeps its older generation (the only restorable one) with its object; VC2 keeps its newest
    // (restorable through its copy) and prunes the older
    await setRetentionSetting(pool(), { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
    const pruned = await cli(['backup', 'prune', '--target', 'main', '--wait']);
    expect({ code: pruned.code, stderr: pruned.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await generation('VC1', older!.id)).toMatchObject({ deletedAt: null, offsiteState: 'copied' });
    expect(await off.store.head(older!.offsiteKey!)).toBeDefined();
    expect(await generation('VC2', whole!.id)).toMatchObject({ deletedAt: null, offsiteState: 'copied' });
    expect((await generation('VC2', wholeOlder!.id)).deletedAt).not.toBeNull();

    const restored = await cli(['backup', 'restore', 'VC1', '--at', '2099-01-01', '--as', 'VC1R', '--wait']);
    expect({ code: restored.code, stderr: restored.stderr }).toEqual({ code: 0, stderr: '' });
    expect(restored.stdout).toContain(`from generation ${older!.id}`);
  });
});

test('R-BK-13, R-BK-14: the sampled verification (no restore) checks the copy of a corrupt file too; the storage away leaves the copy as recorded, then the object found gone is recorded lost', async () => {
  await createDossiers(off.stack, [{ code: 'VC3' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // (the first test's dossiers are backed up again too: their newest archive was found corrupt)
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', failed: 0 });
    const [g] = await dossierGenerations(pool(), 'VC3');
    expect(g).toMatchObject({ verifyState: 'ok', offsiteState: 'copied' });
    damageInPlace(g!.file, 1);

    // the storage away: the damaged file is recorded and reported, the copy said unchecked and left `copied`
    await off.s3.kill();
    let away: BackupVerifyResult;
    try {
      away = await verifyCodes(off, ['VC3']);
    } finally {
      await off.s3.restart();
    }
    expect(away).toMatchObject({ state: 'problems', total: 1, problems: 1, restored: 0 });
    const unchecked = (await itemOf(away.runId, g!.id))!;
    expect(unchecked.status).toBe('corrupt');
    expect(unchecked.error).toContain(`; copie externe ${g!.offsiteBucket}/${g!.offsiteKey} non vérifiée : `);
    expect(await generation('VC3', g!.id)).toMatchObject({ verifyState: 'corrupt', offsiteState: 'copied' });

    // the storage back, the object gone meanwhile: a HEAD (no read back in a sampled run) finds it, it is recorded
    // lost and reported as news, though the damaged file itself was told before
    await off.store.deleteObject(g!.offsiteKey!);
    const found = await verifyCodes(off, ['VC3']);
    expect(found).toMatchObject({ state: 'problems', total: 1, problems: 1, restored: 0 });
    const lost = (await itemOf(found.runId, g!.id))!;
    expect(lost.status).toBe('corrupt');
    expect(lost.error).toMatch(/^copie perdue, pas recopiée \(l'archive locale est corrompue ou absente\); SHA-256 /);
    expect(lost.error).toContain(`copie externe ${g!.offsiteBucket}/${g!.offsiteKey} : no object`);
    const row = await generation('VC3', g!.id);
    expect(row).toMatchObject({ verifyState: 'corrupt', offsiteState: 'failed' });
    expect(isRestorable(row)).toBe(false);
  });
});

test('R-BK-11, R-BK-13, R-BK-14 (drill E): the newest file gone and its object damaged on the storage (its recorded checksum intact): a sampled verification reads the copy back and reports it lost; the prune reads it back too and keeps the older generation, which the restore reads', async () => {
  const db = pool();
  await setRetentionSetting(db, { normal: { last: 20, daily: 0, weekly: 0, monthly: 0 } });
  await createDossiers(off.stack, [{ code: 'VC4' }, { code: 'VC5' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', failed: 0 });
    await modify(db, 'VC4');
    await modify(db, 'VC5');
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', failed: 0 });
    const gens = { VC4: await dossierGenerations(db, 'VC4'), VC5: await dossierGenerations(db, 'VC5') };
    for (const [newest, older] of Object.values(gens)) {
      for (const g of [newest, older]) expect(g).toMatchObject({ offsiteState: 'copied' });
      // the disk lost for the newest, and its object damaged in place on the storage: the HEAD still says it is whole
      for (const f of [newest!.file, ...newest!.links]) fs.rmSync(f, { force: true });
      damageInPlace(path.join(off.s3.dataDir, newest!.offsiteBucket!, newest!.offsiteKey!), 1);
    }

    // a sampled run (no restore asked) reads back the copy all that is left of VC4's newest: not "a restore reads it"
    const found = await verifyCodes(off, ['VC4']);
    expect(found.state).toBe('problems');
    const item = (await itemOf(found.runId, gens.VC4[0]!.id))!;
    expect(item.error).toContain(`copie externe ${gens.VC4[0]!.offsiteBucket}/${gens.VC4[0]!.offsiteKey} : `);
    expect(item.error).not.toContain('une restauration la lit');
    expect(await generation('VC4', gens.VC4[0]!.id)).toMatchObject({ offsiteState: 'failed' });

    // VC5's damage no verification saw: the prune's own read-back finds it, and keeps the older generation
    await setRetentionSetting(db, { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
    const pruned = await cli(['backup', 'prune', '--target', 'main', '--wait']);
    expect({ code: pruned.code, stderr: pruned.stderr }).toEqual({ code: 0, stderr: '' });
    for (const code of ['VC4', 'VC5'] as const) {
      const older = gens[code][1]!;
      expect(await generation(code, older.id)).toMatchObject({ deletedAt: null, offsiteState: 'copied' });
      expect(await off.store.head(older.offsiteKey!)).toBeDefined();
    }
    expect(await generation('VC5', gens.VC5[0]!.id)).toMatchObject({ offsiteState: 'failed' });
    const restored = await cli(['backup', 'restore', 'VC5', '--at', '2099-01-01', '--as', 'VC5R', '--wait']);
    expect({ code: restored.code, stderr: restored.stderr }).toEqual({ code: 0, stderr: '' });
    expect(restored.stdout).toContain(`from generation ${gens.VC5[1]!.id}`);
  });
});

/** Two backups of each dossier (the older and the newest generation), every copy made and whole. */
async function twoGenerations(codes: string[]) {
  await createDossiers(off.stack, codes.map((code) => ({ code })));
  expect(await batchAndFollowUps(off)).toMatchObject({ failed: 0 });
  for (const code of codes) await modify(pool(), code);
  expect(await batchAndFollowUps(off)).toMatchObject({ failed: 0 });
  const gens = Object.fromEntries(await Promise.all(codes.map(async (code) => [code, await dossierGenerations(pool(), code)] as const)));
  for (const code of codes) for (const g of gens[code]!.slice(0, 2)) expect(g).toMatchObject({ offsiteState: 'copied' });
  return gens;
}

test('R-BK-13, R-BK-14: an older generation damaged in the middle, or truncated, whose off-site copy reads back whole is not "lost": nothing to do, a restore --at its date reads the copy; one whose file and copy are both gone is lost (tester, 2026-12-08)', async () => {
  const db = pool();
  await setRetentionSetting(db, { normal: { last: 20, daily: 0, weekly: 0, monthly: 0 } });
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const gens = await twoGenerations(['VO1', 'VO2', 'VO3']);
    const [, flipped] = gens.VO1!;
    const [, truncated] = gens.VO2!;
    const [, lost] = gens.VO3!;
    damageInPlace(flipped!.file, 1);
    fs.truncateSync(truncated!.file, Math.floor(truncated!.size / 2));
    // (its B{code}.SVG holds the newest now: nothing puts the older file back)
    fs.rmSync(lost!.file);
    await off.store.deleteObject(lost!.offsiteKey!);

    const found = await verifyFull(['VO1', 'VO2', 'VO3']);
    expect(found).toMatchObject({ state: 'problems', total: 6, ok: 3, problems: 3 });
    for (const g of [flipped!, truncated!]) {
      const item = (await itemOf(found.runId, g.id))!;
      expect(item.status).toBe('corrupt');
      expect(item.error!.endsWith(`; copie externe ${g.offsiteBucket}/${g.offsiteKey} vérifiée : une restauration la lit`)).toBe(true);
    }
    expect((await itemOf(found.runId, lost!.id))!.status).toBe('missing');
    // no "back up again" (their newest archives are sound), and only VO3 is lost
    expect(found.nextSteps).toEqual([
      {
        command: 'nightshift backup list CODE --target main',
        text: "older generations of VO1, VO2 lost their local file (gone or damaged), but their off-site copies read back whole: 'nightshift backup restore CODE --at DATE' reads such a copy; nothing needs doing for them (a new backup would not put those files back)",
      },
      { command: 'nightshift backup list VO3 --target main', text: expect.stringMatching(/^older generations of VO3 cannot be read \(their newest is sound\): those points in time are lost/) as string },
    ]);

    // as the step says: a restore at the damaged generation's date reads its copy
    const at = flipped!.snapshotAt.toISOString();
    const restored = await cli(['backup', 'restore', 'VO1', '--at', at, '--as', 'VO1R', '--wait']);
    expect({ code: restored.code, stderr: restored.stderr }).toEqual({ code: 0, stderr: '' });
    expect(restored.stdout).toContain(`from generation ${flipped!.id}`);
  });
});

test('R-BK-13, R-BK-14: the storage away during a full verification: dossiers whose copies could not be checked are verified again, none backed up again (their newest archives are sound); a blip of 12 s is waited out, a storage away for good fails the lines quickly (tester, 2026-12-08)', async () => {
  const db = pool();
  await setRetentionSetting(db, { normal: { last: 20, daily: 0, weekly: 0, monthly: 0 } });
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const gens = await twoGenerations(['VS1', 'VS2', 'VS3']);
    // VS1's older generation damaged, its copy whole (found and told by a first run)
    damageInPlace(gens.VS1![1]!.file, 1);
    const first = await verifyFull(['VS1']);
    expect(first).toMatchObject({ state: 'problems', problems: 1 });
    await markVerifyMail(db, first.runId, 'sent');

    // a blip: the storage killed, back 12 s later: every line waits for it and ends as without it
    await off.s3.kill();
    const blip = verifyFull(['VS2', 'VS3']);
    await new Promise((r) => setTimeout(r, 12_000));
    await off.s3.restart();
    expect(await blip).toMatchObject({ state: 'completed', total: 4, ok: 4, problems: 0 });

    // away for good: the lines fail, quickly once one gave up (not 30 s each), and the steps verify again
    await off.s3.kill();
    let away: BackupVerifyResult;
    const started = Date.now();
    try {
      away = await verifyFull(['VS1', 'VS2', 'VS3']);
    } finally {
      await off.s3.restart();
    }
    expect(Date.now() - started).toBeLessThan(70_000);
    expect(away).toMatchObject({ state: 'problems', total: 6, problems: 6 });
    const rows = await items(away.runId);
    expect(rows.find((i) => i.generation_id === String(gens.VS1![1]!.id))).toMatchObject({ status: 'corrupt', error: expect.stringMatching(/^\(signalé déjà\) .* non vérifiée : /) as string });
    expect(rows.filter((i) => i.status === 'failed')).toHaveLength(5);
    // VS1: a damaged older file whose copy was not checked; VS2, VS3: sound archives whose copies were not checked
    expect(away.nextSteps!.map((s) => s.command)).toEqual(['nightshift backup verify --codes VS1 --target main', 'nightshift backup verify --codes VS2,VS3 --target main']);
  });
});
