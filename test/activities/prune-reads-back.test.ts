import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { keepWhatReadsBack, pruneDossier } from '../../activities/prune';
import { type BackupKeyring, NO_KEYS, loadBackupKeyring } from '../../archive/keys';
import { loadConfig } from '../../config/config';
import { createVerifyActivities } from '../../activities/verify';
import { type RetentionPolicies, type RetentionPolicy, deletionReason } from '../../domain/retention';
import { generateDemoDossiers } from '../../registry/demo';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { markGenerationOffsite } from '../../store/generations/mark-offsite';
import { markGenerationVerified } from '../../store/generations/mark-verified';
import { planDossierPrune } from '../../store/generations/retention-plan';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';
import { damageInPlace } from '../helpers/damage';

/**
 * R-BK-11: the prune reads back what it keeps before it deletes (a record says what a verification found, not what the
 * disk holds now), and R-BK-11 / R-BK-13: a generation's file gone while its other name (B{code}.SVG) holds it is put
 * back, by the verification and by the prune, instead of being called missing. Real backups on a real PostgreSQL.
 */

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;
const pool = () => stack.pools.get('main');
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, ...p });
const everyKind = (p: Partial<RetentionPolicy>): RetentionPolicies => ({ normal: policy(p), EchangePrest: policy(p), Cloture: policy(p) });
const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

beforeAll(async () => {
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  await generateDemoDossiers(pool(), { target: 'main', count: 8, sizeKb: 20, prefix: 'PRB' });
});
afterAll(async () => {
  await stack.close();
});

/** `n` backups of a dossier, their ids newest first. */
async function backUp(code: string, n: number, reason: 'manual' | 'cloture' = 'manual'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await backup.backupDossier({ target: 'main', code, reason });
    ids.unshift(r.generationId!);
  }
  return ids;
}

const byId = async (code: string) => new Map((await dossierGenerations(pool(), code, { deleted: true })).map((g) => [g.id, g]));


const prune = (code: string, policies: RetentionPolicies, o: { offsiteStore?: () => undefined; keys?: BackupKeyring } = {}) =>
  pruneDossier(pool(), code, {
    policies,
    timeZone: 'Europe/Paris',
    prunedBy: 'backup-prune/main/reads-back',
    dryRun: false,
    offsiteStore: o.offsiteStore ?? (() => undefined),
    offsiteConfigured: false,
    ...(o.keys && { keys: o.keys }),
  });

test('R-BK-11: a kept Cloture archive damaged and never verified: the prune finds it, records it corrupt, and keeps the older one that reads back (per kind)', async () => {
  const code = 'PRB0001';
  const normal = await backUp(code, 1);
  const cloture = await backUp(code, 2, 'cloture');
  const before = await byId(code);
  expect(cloture.map((id) => before.get(id)!.kind)).toEqual(['Cloture', 'Cloture']);
  const newest = before.get(cloture[0]!)!;
  expect(newest).toMatchObject({ verifyState: 'unverified', sha256: null });
  damageInPlace(newest.file);
  // last=1 alone: a period count not filled would keep the oldest as well, whatever it reads
  const policies = everyKind({ last: 1 });

  // what a plan made without reading files says of the older one: deleted, unless the kept one does not read back
  const plan = await planDossierPrune(pool(), code, policies, 'Europe/Paris', { offsiteConfigured: false });
  const older = plan.generations.find((g) => g.id === cloture[1])!;
  expect(older.decision.keep).toBe(false);
  expect(deletionReason(older.decision, 'Cloture', policies.Cloture)).toBe("beyond Cloture's last=1,daily=0,weekly=0,monthly=0; kept instead if no kept Cloture generation reads back at the prune");

  const r = await prune(code, policies);
  expect(r).toMatchObject({ deleted: 0, kept: 3, error: null });
  // said in the prune's result, not only in a worker's log (drill R, session 39: the dry run said 2, the prune deleted 1)
  expect(r.heldBack).toEqual([
    {
      code,
      generationId: cloture[1],
      kind: 'Cloture',
      snapshotAt: expect.any(String),
      date: expect.any(String),
      why: `kept: the kept Cloture generation(s) ${cloture[0]} do not read back (recorded corrupt or missing): it is the only one that does`,
      replacesBad: true,
    },
  ]);
  const after = await byId(code);
  expect([...normal, ...cloture].map((id) => after.get(id)!.deletedAt)).toEqual([null, null, null]);
  expect(fs.existsSync(after.get(cloture[1]!)!.file)).toBe(true);
  // recorded as a verification records it: the nightly batch takes the dossier again (its newest archive is corrupt)
  expect(after.get(cloture[0]!)).toMatchObject({ verifyState: 'corrupt', verifyError: expect.stringContaining('vu par la rétention avant de supprimer (backup-prune/main/reads-back)') });
  // and from now on the decision itself keeps the older one
  const again = await planDossierPrune(pool(), code, policies, 'Europe/Paris', { offsiteConfigured: false });
  expect(again.generations.find((g) => g.id === cloture[1])!.decision).toMatchObject({ keep: true, reasons: ['only valid generation'] });
});

test('R-BK-11: a normal generation verified ok, then damaged: its recorded SHA-256 tells; the older one stays, "the only generation that reads back"', async () => {
  const code = 'PRB0002';
  const ids = await backUp(code, 2);
  for (const g of (await byId(code)).values()) await markGenerationVerified(pool(), g.id, { state: 'ok', error: null, restored: false, sha256: sha256(g.file) });
  const newest = (await byId(code)).get(ids[0]!)!;
  damageInPlace(newest.file);
  // the check on its own, over the decision as the prune makes it: the reason it gives
  const plan = await planDossierPrune(pool(), code, everyKind({ last: 1 }), 'Europe/Paris', { offsiteConfigured: false });
  await keepWhatReadsBack(plan.generations, { db: pool(), keys: NO_KEYS, offsiteStore: () => undefined, prunedBy: 'backup-prune/main/reads-back' });
  expect(plan.generations.map((g) => [g.id, g.decision.keep, g.decision.reasons])).toEqual([
    [ids[0], true, ['last 1']],
    [ids[1], true, ['the only generation that reads back']],
  ]);
  const r = await prune(code, everyKind({ last: 1 }));
  expect(r).toMatchObject({ deleted: 0, kept: 2, error: null });
  const after = await byId(code);
  expect(after.get(ids[1]!)!.deletedAt).toBeNull();
  expect(after.get(ids[0]!)).toMatchObject({ verifyState: 'corrupt', verifyError: expect.stringMatching(/^SHA-256 [0-9a-f]{12}… au lieu de [0-9a-f]{12}… à l'écriture/) });
});

test('R-BK-11: the usual case costs one read: the newest kept reads back (its SHA-256 recorded), the others go unread', async () => {
  const code = 'PRB0003';
  const ids = await backUp(code, 3);
  const r = await prune(code, everyKind({ last: 1 }));
  expect(r).toMatchObject({ deleted: 2, kept: 1, error: null });
  const after = await byId(code);
  expect(after.get(ids[0]!)!.sha256).toBe(sha256(after.get(ids[0]!)!.file));
  expect(after.get(ids[1]!)!.sha256).toBeNull();
  expect(ids.map((id) => after.get(id)!.deletedAt === null)).toEqual([true, false, false]);
});

test('R-BK-11 / R-BK-14: a kept generation whose only copy left is off-site, with no store on this worker to check it: nothing is deleted on a check not made', async () => {
  const code = 'PRB0004';
  const ids = await backUp(code, 2);
  const newest = (await byId(code)).get(ids[0]!)!;
  await markGenerationOffsite(pool(), newest.id, { state: 'copied', bucket: 'b', key: `k/${code}/1`, sha256: sha256(newest.file) });
  // the disk lost for this one: its file and its other name
  for (const f of [newest.file, ...newest.links]) fs.rmSync(f);
  const r = await prune(code, everyKind({ last: 1 }));
  expect(r).toMatchObject({ deleted: 0, error: null });
  const after = await byId(code);
  expect(after.get(ids[1]!)!.deletedAt).toBeNull();
  expect(fs.existsSync(after.get(ids[1]!)!.file)).toBe(true);
  // the local file's loss is recorded; its copy stays as recorded (not checked)
  expect(after.get(ids[0]!)).toMatchObject({ verifyState: 'missing', offsiteState: 'copied' });
});

test('R-BK-11 / R-BK-13: a generation file removed while B{code}.SVG holds it: the verification puts it back (a hard link again) and says so, not "missing"', async () => {
  const code = 'PRB0005';
  const [id] = await backUp(code, 1);
  const g = (await byId(code)).get(id!)!;
  const link = g.links[0]!;
  fs.rmSync(g.file);
  const acts = createVerifyActivities({ config: stack.config, pools: stack.pools });
  const claim = await acts.claimVerifyRun({ target: 'main', codes: [code], samplePercent: 0, workflowId: `backup-verify/main/${crypto.randomUUID()}` });
  const page = await acts.selectVerifyPage({ target: 'main', scope: claim.scope, cursor: 0, limit: 10 });
  await acts.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 1, timeBudgetMs: 60_000 });
  const finish = await acts.finishVerifyRun({ target: 'main', runId: claim.runId, endedEarly: false });
  expect(finish).toMatchObject({ state: 'completed', ok: 1, problems: 0 });
  expect(fs.statSync(g.file).ino).toBe(fs.statSync(link).ino);
  const after = (await byId(code)).get(id!)!;
  expect(after).toMatchObject({ verifyState: 'ok', verifyError: expect.stringContaining(`fichier de la génération absent, remis depuis ${link}`) });
  expect(after.sha256).toBe(sha256(g.file));
  const report = fs.readFileSync(finish.reportPath!, 'utf8');
  expect(report).toContain(`Sauvegarde vérifiée (restaurée et comparée) : fichier de la génération absent, remis depuis ${link} (même contenu que la génération)\r\n`);
  expect(report).not.toContain('copie externe seulement');
});

test('R-BK-11 / R-BK-13: an older generation whose B{code}.SVG is now a newer one\'s is not put back from it: missing, as before', async () => {
  const code = 'PRB0006';
  const ids = await backUp(code, 2);
  const older = (await byId(code)).get(ids[1]!)!;
  // its recorded other name holds the newer generation now
  expect(fs.statSync(older.links[0]!).ino).toBe(fs.statSync((await byId(code)).get(ids[0]!)!.file).ino);
  fs.rmSync(older.file);
  const acts = createVerifyActivities({ config: stack.config, pools: stack.pools });
  const claim = await acts.claimVerifyRun({ target: 'main', codes: [code], samplePercent: 0, workflowId: `backup-verify/main/${crypto.randomUUID()}` });
  const page = await acts.selectVerifyPage({ target: 'main', scope: claim.scope, cursor: 0, limit: 10 });
  await acts.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 1, timeBudgetMs: 60_000 });
  expect(fs.existsSync(older.file)).toBe(false);
  expect((await byId(code)).get(ids[1]!)).toMatchObject({ verifyState: 'missing' });
});

test('R-BK-11: a generation recorded missing ("nothing is left of it") whose B{code}.SVG holds it: the prune puts its file back and keeps it', async () => {
  const code = 'PRB0007';
  const [id] = await backUp(code, 1);
  const g = (await byId(code)).get(id!)!;
  fs.rmSync(g.file);
  await markGenerationVerified(pool(), id!, { state: 'missing', error: `le fichier ${g.file} n'existe plus`, restored: false });
  const r = await prune(code, everyKind({ last: 1 }));
  expect(r).toMatchObject({ deleted: 0, kept: 1, error: null });
  const after = (await byId(code)).get(id!)!;
  expect(after.deletedAt).toBeNull();
  expect(fs.statSync(g.file).ino).toBe(fs.statSync(g.links[0]!).ino);
});

test('R-BK-11: a restore --at of a generation whose own file is gone while B{code}.SVG holds it puts the file back and restores it (no off-site copy needed)', async () => {
  const code = 'PRB0008';
  const [id] = await backUp(code, 1);
  const g = (await byId(code)).get(id!)!;
  fs.rmSync(g.file);
  const r = await backup.restoreDossier({ target: 'main', file: g.file, as: `${code}R`, replace: false, generationId: id!, from: 'auto' });
  expect(r).toMatchObject({ code: `${code}R` });
  expect(fs.statSync(g.file).ino).toBe(fs.statSync(g.links[0]!).ino);
  // --from local too: the file is there again
  fs.rmSync(g.file);
  await expect(backup.restoreDossier({ target: 'main', file: g.file, as: `${code}S`, replace: false, generationId: id!, from: 'local' })).resolves.toMatchObject({ code: `${code}S` });
});

test('R-BK-11 / R-BK-12: the kept newer generation under a key this worker lacks does not read back here: the older one under a key it has is kept, not deleted (drill K3, session 36); with both keys the policy prunes it', async () => {
  // written last in this file: the target's archives are encrypted from here on (a plain backup would be refused)
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 20, prefix: 'PRK' })) as [string];
  const dir = tempDir('prune-keys');
  const [k1, k2] = ['k1', 'k2'].map((id) => `${id}=${crypto.randomBytes(32).toString('base64')}`) as [string, string];
  const keysFile = (name: string, lines: string[]) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, `${lines.join('\n')}\n`, { mode: 0o600 });
    return loadConfig({ NIGHTSHIFT_DATA_DIR: stack.dataDir, DATABASE_URL: stack.databaseUrl, NIGHTSHIFT_BACKUP_KEYS_FILE: f }).backupKeys;
  };
  const under = (keys: ReturnType<typeof keysFile>) => createBackupActivities({ config: { ...stack.config, backupKeys: keys }, pools: stack.pools });
  const older = (await under(keysFile('one', [k1])).backupDossier({ target: 'main', code, reason: 'manual' })).generationId!;
  const both = keysFile('both', [k1, k2]);
  const newer = (await under(both).backupDossier({ target: 'main', code, reason: 'manual' })).generationId!;
  const gens = await byId(code);
  expect([gens.get(older)!.keyId, gens.get(newer)!.keyId]).toEqual(['k1', 'k2']);

  // a worker given k1 only (its key file redeployed from an older copy)
  const r = await prune(code, everyKind({ last: 1 }), { keys: loadBackupKeyring(keysFile('k1-only', [k1])) });
  expect(r).toMatchObject({ deleted: 0, kept: 2, error: null });
  expect((await byId(code)).get(older)!.deletedAt).toBeNull();
  expect(fs.existsSync(gens.get(older)!.file)).toBe(true);

  // given both keys, the newer one reads back and the policy deletes the older one
  const again = await prune(code, everyKind({ last: 1 }), { keys: loadBackupKeyring(both) });
  expect(again).toMatchObject({ deleted: 1, kept: 1, error: null });
  expect((await byId(code)).get(older)!.deletedAt).not.toBeNull();
});
