import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { createVerifyActivities, offsiteCheckOf } from '../../activities/verify';
import { copyGenerationOffsite } from '../../activities/offsite';
import { createOffsiteStore } from '../../offsite/store';
import { startS3Server } from '../helpers/s3';
import { scratchRestoreCompare } from '../../archive/scratch-restore';
import { loadConfig, type Config } from '../../config/config';
import { inSample, isToldProblem } from '../../domain/backup-verify';
import { generateDemoDossiers } from '../../registry/demo';
import { generationById } from '../../store/generations/generation-by-id';
import { markGenerationsDeleted } from '../../store/generations/mark-deleted';
import { markGenerationVerified } from '../../store/generations/mark-verified';
import { markOffsiteCopyLost } from '../../store/generations/mark-offsite-lost';
import { scratchSchemas } from '../../store/verify/scratch-schema';
import { markVerifyMail } from '../../store/verify/mark-mail';
import type { BackupVerifyInput } from '../../workflows/backup-verify.api';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';

/** Verification of kept generations (R-BK-13), the activities on a real PostgreSQL: checksums, scratch restores, report. */

let stack: TestStack;
const pool = () => stack.pools.get('main');

beforeAll(async () => {
  // this file writes plain archives in a target where one test wrote encrypted ones: on purpose (R-BK-12)
  stack = await createTestStack({ NIGHTSHIFT_TIMEZONE: 'Europe/Paris', NIGHTSHIFT_BACKUP_PLAIN: '1' });
});
afterAll(async () => {
  await stack.close();
});

async function backUp(prefix: string, count: number, config: Config = stack.config): Promise<{ code: string; generationId: number; file: string }[]> {
  const codes = await generateDemoDossiers(pool(), { target: 'main', count, sizeKb: 30, prefix });
  const backup = createBackupActivities({ config, pools: stack.pools });
  const out = [];
  for (const code of codes) {
    const r = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    const g = await generationById(pool(), r.generationId!);
    out.push({ code, generationId: r.generationId!, file: g!.file });
  }
  return out;
}

/** A whole verify run without Temporal: claim, every page, one chunk per page, finish. */
async function verify(input: Omit<BackupVerifyInput, 'target'>, config: Config = stack.config, deps: Partial<Parameters<typeof createVerifyActivities>[0]> = {}) {
  const acts = createVerifyActivities({ config, pools: stack.pools, ...deps });
  const claim = await acts.claimVerifyRun({ target: 'main', ...input, workflowId: `backup-verify/main/${crypto.randomUUID()}` });
  let cursor = 0;
  let restored = 0;
  for (;;) {
    const page = await acts.selectVerifyPage({ target: 'main', scope: claim.scope, cursor, limit: 3 });
    cursor = page.cursor;
    if (page.codes.length) {
      const r = await acts.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 2, timeBudgetMs: 60_000 });
      expect(r.remaining).toEqual([]);
      restored += r.restored;
    }
    if (page.exhausted) break;
  }
  const finish = await acts.finishVerifyRun({ target: 'main', runId: claim.runId, endedEarly: false });
  const { rows: items } = await pool().query<{ generation_id: string; code: string; status: string; restored: boolean; error: string | null }>(
    'SELECT generation_id, code, status, restored, error FROM nightshift.verify_run_item WHERE run_id = $1 ORDER BY generation_id',
    [claim.runId],
  );
  return { claim, finish, items, restored };
}

test('R-BK-13: a clean set verifies ok, every generation restored with --full, checksums recorded, report 0600 in the seed style, no scratch schema left', async () => {
  const set = await backUp('VOK', 3);
  const { finish, items, restored } = await verify({ codes: set.map((s) => s.code), full: true });
  expect(finish).toMatchObject({ state: 'completed', total: 3, ok: 3, problems: 0, restored: 3, mail: false, failures: [], nextCommand: null });
  expect(restored).toBe(3);
  expect(items.map((i) => [i.code, i.status, i.restored])).toEqual(set.map((s) => [s.code, 'ok', true]));
  for (const s of set) {
    const g = (await generationById(pool(), s.generationId))!;
    expect(g).toMatchObject({ verifyState: 'ok', verifyRestored: true, verifyError: null });
    expect(g.sha256).toBe(crypto.createHash('sha256').update(fs.readFileSync(s.file)).digest('hex'));
  }
  expect(await scratchSchemas(pool())).toEqual([]);
  const report = fs.readFileSync(finish.reportPath!, 'utf8');
  expect(path.basename(finish.reportPath!)).toMatch(/^svgverif-\d{8}-\d{6}-\d+\.txt$/);
  expect(fs.statSync(finish.reportPath!).mode & 0o777).toBe(0o600);
  expect(report.split('\r\n')).toEqual([
    ...set.map((s) => expect.stringMatching(new RegExp(`^Dossier ${s.code} : sauvegarde du \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\(${s.file.replace(/[.]/g, '\\.')}\\) : Sauvegarde vérifiée \\(restaurée et comparée\\)$`))),
    '3 / 3 sauvegarde(s) vérifiée(s)',
    '0 / 3 sauvegarde(s) en erreur(s)',
    '3 sauvegarde(s) restaurée(s) dans un schéma temporaire et comparée(s)',
    '',
  ]);
  // no temporary report left next to it
  expect(fs.readdirSync(path.dirname(finish.reportPath!)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});

test('R-BK-13: a flipped byte, a truncated file and a missing file are reported by dossier and generation; the others stay ok', async () => {
  const set = await backUp('VBAD', 4);
  const [flipped, truncated, missing, fine] = set as [(typeof set)[0], (typeof set)[0], (typeof set)[0], (typeof set)[0]];
  // the generation files are second names of B{code}.SVG: replace them by a damaged copy, never in place
  const damage = (file: string, fn: (b: Buffer) => Buffer) => {
    const bytes = fn(Buffer.from(fs.readFileSync(file)));
    fs.rmSync(file);
    fs.writeFileSync(file, bytes, { mode: 0o600 });
  };
  damage(flipped.file, (b) => {
    b[Math.floor(b.length / 2)]! ^= 0xff;
    return b;
  });
  damage(truncated.file, (b) => b.subarray(0, Math.floor(b.length * 0.7)));
  // gone with its other name (B{code}.SVG): a name left holding it would put it back
  const missingGen = (await generationById(pool(), missing.generationId))!;
  for (const f of [missing.file, ...missingGen.links]) fs.rmSync(f);

  const { finish, items } = await verify({ codes: set.map((s) => s.code), samplePercent: 0, seed: 7 });
  expect(finish).toMatchObject({ state: 'problems', total: 4, ok: 1, problems: 3, failuresTotal: 3 });
  const byCode = Object.fromEntries(items.map((i) => [i.code, i]));
  expect(byCode[flipped.code]).toMatchObject({ status: 'corrupt', error: expect.stringMatching(/invalid archive/) });
expect(byCode[truncated.code]).toMatchObject({ status: 'corrupt', error: expect.stringMatching(/^\d+ octets au lieu de \d+ à l'écriture; .*invalid archive/) });
  expect(byCode[missing.code]).toMatchObject({ status: 'missing', error: expect.stringContaining(missing.file) });
  expect(byCode[fine.code]).toMatchObject({ status: 'ok' });
  expect((await generationById(pool(), flipped.generationId))!).toMatchObject({ verifyState: 'corrupt', sha256: null });
  expect((await generationById(pool(), missing.generationId))!.verifyState).toBe('missing');
  // the next command backs these dossiers up again; the failures name dossier, generation date and file
  expect(finish.nextCommand).toBe(`nightshift backup run --all --only ${[flipped.code, truncated.code, missing.code].sort().join(',')} --target main`);
  expect(finish.failures.map((f) => f.code).sort()).toEqual([flipped.code, truncated.code, missing.code].sort());
  // R-OP-1: the date's zone is said, as `backup verify status` says it (the Web UI's details show these lines)
  expect(finish.failures[0]!.error).toMatch(/^sauvegarde du \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Europe\/Paris \(B.*\.SVG\) : /);

  const report = fs.readFileSync(finish.reportPath!, 'utf8');
  expect(report).toMatch(new RegExp(`^Dossier ${flipped.code} : sauvegarde du [^(]+\\(.*${path.basename(flipped.file).replace(/\./g, '\\.')}\\) : Sauvegarde corrompue\\. invalid archive`, 'm'));
  expect(report).toMatch(new RegExp(`^Dossier ${missing.code} : sauvegarde du [^(]+\\(.*\\) : Fichier de sauvegarde absent\\. le fichier .* n'existe plus\\r$`, 'm'));
  expect(report).toContain('1 / 4 sauvegarde(s) vérifiée(s)\r\n3 / 4 sauvegarde(s) en erreur(s)\r\n');
  expect(await scratchSchemas(pool())).toEqual([]);
});

test('R-BK-13: a restore that fails half-way (a damaged table part) leaves no scratch schema and no dossier behind', async () => {
  const [one] = await backUp('VRF', 1);
  const copy = path.join(tempDir('damaged'), 'copy.SVG');
  const bytes = Buffer.from(fs.readFileSync(one!.file));
  bytes[Math.floor(bytes.length * 0.8)]! ^= 0x55;
  fs.writeFileSync(copy, bytes);
  const before = await pool().query('SELECT count(*)::int AS n FROM nightshift.dossier');
  await expect(scratchRestoreCompare({ pool: pool(), file: copy })).rejects.toThrow(/invalid archive/);
  expect(await scratchSchemas(pool())).toEqual([]);
  expect((await pool().query('SELECT count(*)::int AS n FROM nightshift.dossier')).rows[0].n).toBe(before.rows[0].n);
  // the intact archive restores and compares equal, and registers nothing either
  const ok = await scratchRestoreCompare({ pool: pool(), file: one!.file });
  expect(ok).toMatchObject({ differences: [], schema: expect.stringMatching(/^nightshift_verify_[0-9a-f]{12}$/) });
  expect(ok.tables).toBeGreaterThan(0);
  expect(ok.rows).toBeGreaterThan(0);
  expect(await scratchSchemas(pool())).toEqual([]);
  expect((await pool().query('SELECT count(*)::int AS n FROM nightshift.dossier')).rows[0].n).toBe(before.rows[0].n);
});

test('R-BK-13: sample vs full: a 0 % sample still restores exactly one generation (the seed\'s anchor), the same one for the same seed; full restores all', async () => {
  const set = await backUp('VSMP', 5);
  const codes = set.map((s) => s.code);
  const a = await verify({ codes, samplePercent: 0, seed: 12345 });
  const b = await verify({ codes, samplePercent: 0, seed: 12345 });
  expect(a.finish).toMatchObject({ state: 'completed', restored: 1, seed: 12345 });
  expect(a.items.filter((i) => i.restored).map((i) => i.generation_id)).toEqual(b.items.filter((i) => i.restored).map((i) => i.generation_id));
  expect(a.claim.sample.anchor).toBe(b.claim.sample.anchor);
  const full = await verify({ codes, full: true });
  expect(full.finish).toMatchObject({ state: 'completed', restored: 5 });
  // the draw itself: about the asked share over many ids, and deterministic
  const drawn = Array.from({ length: 10_000 }, (_, i) => inSample(i + 1, { full: false, samplePercent: 5, seed: 99, anchor: null })).filter(Boolean).length;
  expect(drawn).toBeGreaterThan(400);
  expect(drawn).toBeLessThan(600);
  // and over neighbouring ids (a run's generations are consecutive ids): 100 ids, 5 %, for each of 50 seeds
  const perSeed = Array.from({ length: 50 }, (_, seed) => Array.from({ length: 100 }, (_, i) => inSample(i + 1, { full: false, samplePercent: 5, seed, anchor: null })).filter(Boolean).length);
  expect(Math.max(...perSeed)).toBeLessThanOrEqual(15);
  expect(perSeed.reduce((a, b) => a + b, 0)).toBeGreaterThan(170);
  expect(perSeed.reduce((a, b) => a + b, 0)).toBeLessThan(330);
});

test('R-BK-13 / R-BK-12: an encrypted generation verified without its key is its own clear problem (key), not "corrupt"', async () => {
  const keyFile = path.join(tempDir('keys'), 'backup-keys');
  fs.writeFileSync(keyFile, `k1=${crypto.randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const withKey: Config = { ...stack.config, backupKeys: loadConfig({ NIGHTSHIFT_DATA_DIR: stack.dataDir, DATABASE_URL: stack.databaseUrl, NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile }).backupKeys };
  const [enc] = await backUp('VKEY', 1, withKey);
  const withKeyRun = await verify({ codes: [enc!.code], full: true }, withKey);
  expect(withKeyRun.finish).toMatchObject({ state: 'completed', ok: 1, restored: 1 });
  const noKey = await verify({ codes: [enc!.code] });
  expect(noKey.finish.state).toBe('problems');
  expect(noKey.items[0]).toMatchObject({ status: 'key', error: expect.stringMatching(/encrypted with backup key k1/) });
  expect(noKey.items[0]!.error).not.toMatch(/signalé déjà/);
  // the same key still lacking at the next run, nothing read since: reported again, mailed no more (drills K3 and V2,
  // session 36: a lost key's generations were mailed at every run)
  // (told: the earlier run's mail carried it; one that mailed nobody, no recipients then, told no one: drill F)
  const nobodyTold = await verify({ codes: [enc!.code] });
  expect(nobodyTold.items[0]!.error).not.toMatch(/signalé déjà/);
  await markVerifyMail(pool(), nobodyTold.claim.runId, 'sent');
  const noKeyAgain = await verify({ codes: [enc!.code] });
  expect(noKeyAgain.items[0]).toMatchObject({ status: 'key', error: expect.stringMatching(/^\(signalé déjà\) .*encrypted with backup key k1/) });
  expect(noKeyAgain.finish).toMatchObject({ state: 'problems', problems: 1 });
  // the generation's own state is not changed by a worker that could not read it
  expect((await generationById(pool(), enc!.generationId))!.verifyState).toBe('ok');
  // nor is a new backup proposed (retention could then prune the intact archive): the key to give, then verify again
  const again = `nightshift backup verify --codes ${enc!.code} --target main`;
  expect(noKey.finish.nextCommand).toBe(again);
  expect(noKey.finish.nextSteps).toEqual([
    {
      command: again,
      text:
        "the archives are not at fault: the worker lacks the backup key k1 they were encrypted with (or holds another under that id); give the workers the original key in NIGHTSHIFT_BACKUP_KEYS_FILE (or NIGHTSHIFT_BACKUP_KEYS), then verify again. " +
        "If that key is lost for good, those generations can never be read: restore a newer one ('nightshift backup list CODE' says each one's key); the nightly batch backs up again, under the current key, each dossier whose newest archive uses a key its worker does not give; retention prunes the unreadable ones in time",
    },
  ]);

  // with an archive at fault in the same run: only that dossier is backed up again, the key one is verified again
  const [gone] = await backUp('VKMX', 1);
  for (const f of [gone!.file, ...(await generationById(pool(), gone!.generationId))!.links]) fs.rmSync(f);
  const mixed = await verify({ codes: [enc!.code, gone!.code], samplePercent: 0 });
  expect(mixed.items.map((i) => [i.code, i.status]).sort()).toEqual([[enc!.code, 'key'], [gone!.code, 'missing']].sort());
  expect(mixed.finish.nextCommand).toBe(`nightshift backup run --all --only ${gone!.code} --target main`);
  expect(mixed.finish.nextSteps!.map((n) => n.command)).toEqual([`nightshift backup run --all --only ${gone!.code} --target main`, again]);
  // with the key, the archive verifies ok: the step said the truth
  expect((await verify({ codes: [enc!.code] }, withKey)).finish).toMatchObject({ state: 'completed', ok: 1, nextCommand: null });
});

test('R-BK-11 / R-BK-13: the verification holds a lease while it reads (prune cannot delete it then); a generation pruned before is not selected', async () => {
  const [g1, g2] = await backUp('VLS', 2);
  await markGenerationsDeleted(pool(), [g2!.generationId], 'prune/test');
  const seenDuringRead: number[][] = [];
  const acts = createVerifyActivities(
    { config: stack.config, pools: stack.pools },
    { beforeGeneration: async (g) => void seenDuringRead.push(await markGenerationsDeleted(pool(), [g.id], 'prune/test')) },
  );
  const claim = await acts.claimVerifyRun({ target: 'main', codes: [g1!.code, g2!.code], workflowId: `backup-verify/main/${crypto.randomUUID()}` });
  const page = await acts.selectVerifyPage({ target: 'main', scope: claim.scope, cursor: 0, limit: 10 });
  expect(page.codes).toEqual([String(g1!.generationId)]);
  const r = await acts.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 1, timeBudgetMs: 60_000 });
  expect(r).toMatchObject({ ok: 1, failed: 0 });
  // prune tried to delete it while it was read: the lease won
  expect(seenDuringRead).toEqual([[]]);
  expect((await generationById(pool(), g1!.generationId))!.deletedAt).toBeNull();
  // the lease is released after the read
  const { rows } = await pool().query('SELECT count(*)::int AS n FROM nightshift.backup_generation_lease');
  expect(rows[0].n).toBe(0);
});

test('R-BK-13 / R-BK-14: an off-site copy is verified too (versitygw): ok while it is the archive, a problem once gone or different, then recorded failed so that the next batch copies it again', async () => {
  const s3 = await startS3Server();
  try {
    const config = loadConfig({ NIGHTSHIFT_DATA_DIR: stack.dataDir, DATABASE_URL: stack.databaseUrl, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'verify/' }) });
    const store = createOffsiteStore(config.offsite!);
    try {
      const [a, b] = await backUp('VOFF', 2);
      for (const g of [a!, b!]) {
        const copy = await copyGenerationOffsite({ db: pool(), store: () => store, target: 'main', generationId: g.generationId });
        expect(copy.ok).toBe(true);
      }
      const offsiteCheck = offsiteCheckOf(async () => store);
      const clean = await verify({ codes: [a!.code, b!.code], full: true }, stack.config, { offsiteCheck });
      expect(clean.finish).toMatchObject({ state: 'completed', ok: 2 });

      const ga = (await generationById(pool(), a!.generationId))!;
      const gb = (await generationById(pool(), b!.generationId))!;
      await store.deleteObject(ga.offsiteKey!);
      // another archive stored under b's key: a copy that is not this generation
      await store.upload({ file: a!.file, key: gb.offsiteKey! });
      const bad = await verify({ codes: [a!.code, b!.code], samplePercent: 0 }, stack.config, { offsiteCheck });
      expect(bad.finish).toMatchObject({ state: 'problems', ok: 0, problems: 2 });
      expect(bad.items.map((i) => [i.code, i.status])).toEqual([[a!.code, 'offsite'], [b!.code, 'offsite']]);
      expect(bad.items[0]!.error).toContain(`copie externe ${ga.offsiteBucket}/${ga.offsiteKey}`);
      const report = fs.readFileSync(bad.finish.reportPath!, 'utf8');
      expect(report).toContain(`Dossier ${a!.code} : sauvegarde du `);
      expect(report).toContain('Copie externe (S3) absente ou différente');
      // the local archive itself is fine: its own state stays ok
      expect((await generationById(pool(), a!.generationId))!.verifyState).toBe('ok');
      // the copies are no copies: recorded failed (bucket and key kept for the prune), both dossiers waiting for one
      for (const [g, item] of [[ga, bad.items[0]!], [gb, bad.items[1]!]] as const) {
        expect(item.error).toMatch(/^copie à refaire, la prochaine sauvegarde la recopie en premier; copie externe /);
        expect(await generationById(pool(), g.id)).toMatchObject({ verifyState: 'ok', offsiteState: 'failed', offsiteBucket: g.offsiteBucket, offsiteKey: g.offsiteKey, offsiteError: expect.stringMatching(/^off-site copy missing or different: \(verify run \d+\) copie externe /) as string });
      }
      const pendingOf = async (code: string) => (await pool().query<{ generation_id: string }>('SELECT generation_id FROM nightshift.backup_offsite_pending WHERE code = $1', [code])).rows.map((r) => Number(r.generation_id));
      expect(await pendingOf(a!.code)).toEqual([a!.generationId]);
      expect(await pendingOf(b!.code)).toEqual([b!.generationId]);

      // only the copy that was checked: a copy recorded since (the next batch's) is not marked by a late verification
      expect(await copyGenerationOffsite({ db: pool(), store: () => store, target: 'main', generationId: a!.generationId })).toMatchObject({ ok: true });
      expect(await markOffsiteCopyLost(pool(), a!.generationId, { key: ga.offsiteKey!, copiedAt: ga.offsiteAt, error: 'late' })).toEqual({ marked: false, pending: false });
      expect(await generationById(pool(), a!.generationId)).toMatchObject({ offsiteState: 'copied', offsiteError: null });
      expect(await pendingOf(a!.code)).toEqual([]);

      // an older generation's copy lost: recorded failed too, and the dossier waits for it though its newest is copied
      // (migration 0019: the pending row names no archive of the newest to copy)
      const newer = await createBackupActivities({ config: stack.config, pools: stack.pools }).backupDossier({ target: 'main', code: a!.code, reason: 'manual' });
      expect(await copyGenerationOffsite({ db: pool(), store: () => store, target: 'main', generationId: newer.generationId! })).toMatchObject({ ok: true });
      await store.deleteObject(ga.offsiteKey!);
      const older = await verify({ codes: [a!.code], samplePercent: 0 }, stack.config, { offsiteCheck });
      expect(older.items.map((i) => [Number(i.generation_id), i.status])).toEqual([
        [a!.generationId, 'offsite'],
        [newer.generationId, 'ok'],
      ]);
      expect(older.items[0]!.error).toMatch(/^copie à refaire, la prochaine sauvegarde la recopie en premier; copie externe /);
      expect(await generationById(pool(), a!.generationId)).toMatchObject({ offsiteState: 'failed' });
      expect((await pool().query('SELECT generation_id FROM nightshift.backup_offsite_pending WHERE code = $1', [a!.code])).rows).toEqual([{ generation_id: null }]);
      // a copy gone is the archive's problem: backed up again
      expect(older.finish.nextCommand).toBe(`nightshift backup run --all --only ${a!.code} --target main`);

      // the storage away while the newest's copy is checked (its local archive read back whole): no backup proposed,
      // a verification again once the storage answers
      await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'unverified', verified_at = NULL WHERE id = $1`, [newer.generationId]);
      await s3.kill();
      const away = await verify({ codes: [a!.code], samplePercent: 0 }, stack.config, { offsiteCheck });
      // (the older one's copy, recorded lost and not made again since, is still that problem: R-BK-14, tester 2026-12-08)
      expect(away.items.map((i) => [Number(i.generation_id), i.status])).toEqual([
        [a!.generationId, 'offsite'],
        [newer.generationId, 'failed'],
      ]);
      expect(away.items[0]!.error).toMatch(/^copie à refaire, la prochaine sauvegarde la recopie en premier; \(verify run \d+\) copie externe /);
      expect(away.items[1]!.error).toMatch(/^off-site storage failed while checking /);
      // its local archive read back whole: recorded verified (backup list no longer says unverified), its copy as it was
      expect(await generationById(pool(), newer.generationId!)).toMatchObject({ verifyState: 'ok', verifyError: null, offsiteState: 'copied' });
      expect(away.finish.nextSteps).toEqual([
        { command: `nightshift backup run --all --only ${a!.code} --target main`, text: expect.stringMatching(/^the local archives read back whole, but their off-site copies are gone/) },
        { command: `nightshift backup verify --codes ${a!.code} --target main`, text: expect.stringMatching(/off-site storage refused or did not answer .*verify again$/) },
      ]);
    } finally {
      store.close();
    }
  } finally {
    await s3.stop();
  }
});

test('R-BK-13 / R-BK-14: an older generation\'s file gone, its copy whole: nothing to do (a backup would not put it back), said to restore from the copy; the newest gone: backed up again', async () => {
  const s3 = await startS3Server();
  try {
    const config = loadConfig({ NIGHTSHIFT_DATA_DIR: stack.dataDir, DATABASE_URL: stack.databaseUrl, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'verify-older/' }) });
    const store = createOffsiteStore(config.offsite!);
    try {
      const [a, b] = await backUp('VOLD', 2);
      const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
      const newerA = await backup.backupDossier({ target: 'main', code: a!.code, reason: 'manual' });
      for (const id of [a!.generationId, b!.generationId, newerA.generationId!]) {
        expect(await copyGenerationOffsite({ db: pool(), store: () => store, target: 'main', generationId: id })).toMatchObject({ ok: true });
      }
      const offsiteCheck = offsiteCheckOf(async () => store);
      // a's older file and b's only (newest) one are gone; every copy reads back whole
      fs.rmSync(a!.file);
      const older = await verify({ codes: [a!.code], samplePercent: 0 }, stack.config, { offsiteCheck });
      expect(older.items.map((i) => [Number(i.generation_id), i.status])).toEqual([
        [a!.generationId, 'missing'],
        [newerA.generationId, 'ok'],
      ]);
      expect(older.finish).toMatchObject({ state: 'problems', problems: 1, nextCommand: `nightshift backup list ${a!.code} --target main` });
      expect(older.finish.nextSteps).toEqual([
        {
          command: `nightshift backup list ${a!.code} --target main`,
          text: `older generations of ${a!.code} lost their local file (gone or damaged), but their off-site copies read back whole: 'nightshift backup restore CODE --at DATE' reads such a copy; nothing needs doing for them (a new backup would not put those files back)`,
        },
      ]);

      // and the dossier's own archive (sauve/B{code}.SVG), which would put the newest one back
      fs.rmSync(b!.file);
      fs.rmSync(path.join(path.dirname(path.dirname(path.dirname(b!.file))), `B${b!.code}.SVG`));
      await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'unverified', verify_error = NULL WHERE id = $1`, [a!.generationId]);
      const both = await verify({ codes: [a!.code, b!.code], samplePercent: 0 }, stack.config, { offsiteCheck });
      expect(both.finish).toMatchObject({ problems: 2, nextCommand: `nightshift backup run --all --only ${b!.code} --target main` });
      expect(both.finish.nextSteps!.map((s) => s.command)).toEqual([`nightshift backup run --all --only ${b!.code} --target main`, `nightshift backup list ${a!.code} --target main`]);
      expect(both.finish.nextSteps![0]!.text).toMatch(/^the local files are gone but their off-site copies read back whole/);
      expect(both.finish.nextSteps![1]!.text).toMatch(new RegExp(`^older generations of ${a!.code} lost their local file`));
    } finally {
      store.close();
    }
  } finally {
    await s3.stop();
  }
});

test('R-BK-13, R-BK-8: a problem this run recorded before its worker was killed (no ledger row yet) is this run\'s news on the retry, not "told already": it is still mailed', async () => {
  const [damaged] = await backUp('VKILL', 1);
  const bytes = Buffer.from(fs.readFileSync(damaged!.file));
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  fs.rmSync(damaged!.file);
  fs.writeFileSync(damaged!.file, bytes, { mode: 0o600 });
  const acts = createVerifyActivities({ config: stack.config, pools: stack.pools });
  const claim = await acts.claimVerifyRun({ target: 'main', codes: [damaged!.code], workflowId: `backup-verify/main/${crypto.randomUUID()}` });
  // the killed attempt: the generation's state recorded, then the SIGKILL before its ledger row
  await markGenerationVerified(pool(), damaged!.generationId, { state: 'corrupt', error: 'invalid archive', restored: false });
  const page = await acts.selectVerifyPage({ target: 'main', scope: claim.scope, cursor: 0, limit: 10 });
  const r = await acts.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 1, timeBudgetMs: 60_000 });
  expect(r).toMatchObject({ ok: 0, failed: 1 });
  const { rows } = await pool().query<{ status: string; error: string }>('SELECT status, error FROM nightshift.verify_run_item WHERE run_id = $1', [claim.runId]);
  expect(rows).toHaveLength(1);
  expect(rows[0]!.status).toBe('corrupt');
  expect(isToldProblem(rows[0]!.error)).toBe(false);
  await acts.finishVerifyRun({ target: 'main', runId: claim.runId, endedEarly: false });
});

test('R-BK-13 rotating parts: claims at once each take their own part (under one lock); a retried claim keeps its part; the anchor is in the part', async () => {
  await backUp('RP', 4);
  const acts = createVerifyActivities({ config: stack.config, pools: stack.pools });
  const of = 4;
  // the parts of `of` this file's earlier runs took: none (no run of this file rotates in 4 parts)
  const claims = await Promise.all([1, 2, 3, 4].map(() => acts.claimVerifyRun({ target: 'main', subset: { of }, workflowId: `backup-verify/main/${crypto.randomUUID()}` })));
  const parts = claims.map((c) => (c.scope.kind === 'all' ? c.scope.part?.part : undefined)).sort();
  expect(parts).toEqual([1, 2, 3, 4]);
  for (const c of claims) {
    const part = c.scope.kind === 'all' ? c.scope.part! : undefined;
    expect(part).toMatchObject({ of, rotating: true });
    // at least one generation is restored, and it is one of the part's
    if (c.sample.anchor !== null) expect(c.sample.anchor % of).toBe(part!.part - 1);
    const { rows } = await pool().query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.backup_generation WHERE deleted_at IS NULL AND id % $1 = $2', [of, part!.part - 1]);
    expect(c.selected).toBe(rows[0]!.n);
  }
  // the same workflow claims again (an attempt whose answer was lost): the same part, not the next
  const workflowId = `backup-verify/main/${crypto.randomUUID()}`;
  const first = await acts.claimVerifyRun({ target: 'main', subset: { of }, workflowId });
  const again = await acts.claimVerifyRun({ target: 'main', subset: { of }, workflowId });
  expect(again).toEqual(first);
  expect(first.scope).toEqual({ kind: 'all', part: { part: 1, of, rotating: true } });
  // bad input changes nothing
  const before = (await pool().query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.verify_run')).rows[0]!.n;
  await expect(acts.claimVerifyRun({ target: 'main', subset: { of, part: 5 }, workflowId: `backup-verify/main/${crypto.randomUUID()}` })).rejects.toThrow(/the part is one of 1 to the number of parts/);
  await expect(acts.claimVerifyRun({ target: 'main', subset: { of }, codes: ['RP0001'], workflowId: `backup-verify/main/${crypto.randomUUID()}` })).rejects.toThrow(/give it without codes or a backup run/);
  expect((await pool().query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.verify_run')).rows[0]!.n).toBe(before);
});

test('R-BK-13: an older generation found corrupt, the newest sound: its next step says that point in time is lost (backup list), not "back up again", which would not bring it back (drill B, session 35)', async () => {
  const [a, b] = (await backUp('VOLD', 2)) as [{ code: string; generationId: number; file: string }, { code: string; generationId: number; file: string }];
  // a second, sound generation of A: the first is now an older one
  const again = await createBackupActivities({ config: stack.config, pools: stack.pools }).backupDossier({ target: 'main', code: a.code, reason: 'manual' });
  expect(again.generationId).not.toBe(a.generationId);
  const bytes = Buffer.from(fs.readFileSync(a.file));
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  fs.rmSync(a.file);
  fs.writeFileSync(a.file, bytes, { mode: 0o600 });
  // and B's newest (its only one) too: that one a new backup does put back
  const bBytes = Buffer.from(fs.readFileSync(b.file));
  bBytes[Math.floor(bBytes.length / 2)]! ^= 0xff;
  fs.rmSync(b.file);
  fs.writeFileSync(b.file, bBytes, { mode: 0o600 });

  const { finish } = await verify({ codes: [a.code, b.code], samplePercent: 0, seed: 3 });
  expect(finish).toMatchObject({ state: 'problems', problems: 2 });
  expect(finish.nextSteps).toEqual([
    { text: 'back up these dossiers again', command: `nightshift backup run --all --only ${b.code} --target main` },
    {
      text: expect.stringMatching(new RegExp(`^older generations of ${a.code} cannot be read \\(their newest is sound\\): those points in time are lost, nothing repairs them`)),
      command: `nightshift backup list ${a.code} --target main`,
    },
  ]);
});

test('R-BK-13 / R-BK-12: a file changed since it was written is corrupt before it is read: a damaged first line is not a key problem, another dossier\'s archive in its place is named and not restored (drills V2 and K3, session 36)', async () => {
  const keyFile = path.join(tempDir('keys'), 'backup-keys');
  fs.writeFileSync(keyFile, `k36=${crypto.randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const withKey: Config = { ...stack.config, backupKeys: loadConfig({ NIGHTSHIFT_DATA_DIR: stack.dataDir, DATABASE_URL: stack.databaseUrl, NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile }).backupKeys };
  const [salted, swapped, other] = (await backUp('VCHG', 3, withKey)) as [{ code: string; generationId: number; file: string }, { code: string; generationId: number; file: string }, { code: string; generationId: number; file: string }];
  // the first verification records each file's SHA-256
  expect((await verify({ codes: [salted.code, swapped.code], samplePercent: 0, seed: 1 }, withKey)).finish).toMatchObject({ state: 'completed', ok: 2 });
  // one byte of the first line changed in place (the salt the key is derived with), size unchanged
  const firstLine = fs.readFileSync(salted.file).subarray(0, 200).toString('latin1');
  const at = firstLine.indexOf('salt=') + 8;
  expect(at).toBeGreaterThan(8);
  const fd = fs.openSync(salted.file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] = b[0] === 0x41 ? 0x42 : 0x41;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
  // another dossier's sound archive in the generation's place (its names are hard links: replaced, not written through)
  fs.rmSync(swapped.file);
  fs.copyFileSync(other.file, swapped.file);

  const run = await verify({ codes: [salted.code, swapped.code], full: true }, withKey);
  const byCode = Object.fromEntries(run.items.map((i) => [i.code, i]));
  expect(byCode[salted.code]).toMatchObject({ status: 'corrupt', restored: false, error: expect.stringMatching(/^SHA-256 [0-9a-f]{12}… au lieu de [0-9a-f]{12}… à l'écriture$/) });
  expect(byCode[swapped.code]).toMatchObject({ status: 'corrupt', restored: false, error: expect.stringContaining(`(le fichier est une archive valide du dossier ${other.code}, sauvegarde du `) });
  expect(run.restored).toBe(0);
  expect(run.finish).toMatchObject({ state: 'problems', problems: 2, restored: 0 });
  // the generations are corrupt now (not "ok, a key to give"): the next batch backs the dossiers up again
  expect((await generationById(pool(), salted.generationId))!.verifyState).toBe('corrupt');
  expect(run.finish.nextCommand).toBe(`nightshift backup run --all --only ${[salted.code, swapped.code].sort().join(',')} --target main`);
});

test('R-BK-13 / R-BK-9: the newest Cloture archive found corrupt, the normal one sound: its next step says retention keeps it and a batch does not take that kind again, with the command that takes one (drill R2, session 36: "older generations … retention prunes them in time")', async () => {
  const [c] = (await backUp('VCLO', 1)) as [{ code: string; generationId: number; file: string }];
  const closing = await createBackupActivities({ config: stack.config, pools: stack.pools }).backupDossier({ target: 'main', code: c.code, reason: 'cloture' });
  const g = (await generationById(pool(), closing.generationId!))!;
  expect(g.kind).toBe('Cloture');
  const bytes = Buffer.from(fs.readFileSync(g.file));
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  fs.rmSync(g.file);
  fs.writeFileSync(g.file, bytes, { mode: 0o600 });

  const { finish } = await verify({ codes: [c.code], samplePercent: 0, seed: 5 });
  expect(finish).toMatchObject({ state: 'problems', problems: 1 });
  expect(finish.nextSteps).toEqual([
    {
      text: expect.stringMatching(new RegExp(`^the newest EchangePrest / Cloture archive of ${c.code} \\(Cloture\\) cannot be read, and retention keeps it`)),
      command: `nightshift backup dossier ${c.code} --reason cloture --target main`,
    },
  ]);
});

test('R-BK-5 / R-BK-13: B{code}.SVG of a dossier\'s newest generation gone, or holding another dossier\'s archive, is put right from the generation and said on the ok line; an older generation\'s name (now the newer one\'s) is left alone (drills V2 and R2, session 36)', async () => {
  const [gone, swapped, older] = (await backUp('VLNK', 3)) as [{ code: string; generationId: number; file: string }, { code: string; generationId: number; file: string }, { code: string; generationId: number; file: string }];
  const linkOf = async (id: number) => (await generationById(pool(), id))!.links[0]!;
  const goneLink = await linkOf(gone.generationId);
  const swappedLink = await linkOf(swapped.generationId);
  expect(path.basename(goneLink)).toBe(`B${gone.code}.SVG`);
  fs.rmSync(goneLink);
  fs.rmSync(swappedLink);
  fs.copyFileSync(older.file, swappedLink);
  // a second backup of `older`: its first generation's name is the new one's now
  const newer = await createBackupActivities({ config: stack.config, pools: stack.pools }).backupDossier({ target: 'main', code: older.code, reason: 'manual' });
  const olderLink = await linkOf(older.generationId);
  const newerFile = (await generationById(pool(), newer.generationId!))!.file;
  expect(fs.statSync(olderLink).ino).toBe(fs.statSync(newerFile).ino);

  const { items, finish } = await verify({ codes: [gone.code, swapped.code, older.code], samplePercent: 0, seed: 2 });
  expect(finish).toMatchObject({ state: 'completed', problems: 0 });
  const byGen = Object.fromEntries(items.map((i) => [Number(i.generation_id), i]));
  expect(byGen[gone.generationId]).toMatchObject({ status: 'ok', error: `B${gone.code}.SVG remis depuis la génération (absent)` });
  expect(byGen[swapped.generationId]).toMatchObject({ status: 'ok', error: expect.stringMatching(new RegExp(`^B${swapped.code}\\.SVG remis depuis la génération \\(il contenait une archive du dossier ${older.code} du `)) });
  expect(byGen[older.generationId]).toMatchObject({ status: 'ok', error: null });
  expect(fs.statSync(goneLink).ino).toBe(fs.statSync(gone.file).ino);
  expect(fs.statSync(swappedLink).ino).toBe(fs.statSync(swapped.file).ino);
  expect(fs.statSync(olderLink).ino).toBe(fs.statSync(newerFile).ino);
  // said on an ok line of the report, a local name: not "copie externe seulement" (drill F, session 36)
  const report = fs.readFileSync(finish.reportPath!, 'utf8');
  expect(report).toContain(`: Sauvegarde vérifiée : B${gone.code}.SVG remis depuis la génération (absent)\r\n`);
  expect(report).not.toContain('copie externe seulement');
  expect(byGen[swapped.generationId]!.error).toMatch(/ du \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/);
  // once right, the next verification has nothing to say of them
  const again = await verify({ codes: [gone.code, swapped.code], samplePercent: 0, seed: 2 });
  expect(again.items.map((i) => i.error)).toEqual([null, null]);
});

test('R-BK-13: a closed run shows its first 20 problems in the order `backup verify status` lists them all, those left out being the last (tester, 2026-12-08)', async () => {
  const set = await backUp('VORD', 22);
  for (const s of set) {
    const g = (await generationById(pool(), s.generationId))!;
    for (const f of [s.file, ...g.links]) fs.rmSync(f, { force: true });
  }
  const { finish } = await verify({ codes: set.map((s) => s.code), samplePercent: 0, seed: 7 });
  expect(finish).toMatchObject({ state: 'problems', problems: 22, failuresTotal: 22 });
  const inOrder = set.map((s) => s.code).sort();
  expect(finish.failures.map((f) => f.code)).toEqual(inOrder.slice(0, 20));
});
