import fs from 'node:fs';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { pruneDossier } from '../../activities/prune';
import { planDossierPrune } from '../../store/generations/retention-plan';
import { generateDemoDossiers } from '../../registry/demo';
import type { RetentionPolicies, RetentionPolicy } from '../../domain/retention';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { markGenerationsDeleted } from '../../store/generations/mark-deleted';
import { markGenerationOffsite } from '../../store/generations/mark-offsite';
import { markGenerationVerified } from '../../store/generations/mark-verified';
import { pruneTotals } from '../../store/generations/prune-totals';
import { releaseGenerationLease, takeGenerationLease } from '../../store/generations/lease';
import { createTestStack, type TestStack } from '../helpers/env';

/** The prune of one dossier (R-BK-11) over generations made by real backups, their times set by fixture SQL. */

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;
const noOffsite = () => undefined;
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, ...p });
const everyKind = (p: Partial<RetentionPolicy>): RetentionPolicies => ({ normal: policy(p), EchangePrest: policy(p), Cloture: policy(p) });
const pool = () => stack.pools.get('main');
const exists = (f: string) => fs.existsSync(f);

beforeAll(async () => {
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  await generateDemoDossiers(pool(), { target: 'main', count: 9, sizeKb: 10, prefix: 'PRU' });
});
afterAll(async () => {
  await stack.close();
});

/** `n` backups of a dossier, the i-th (newest first) dated `daysAgo[i]` days before 2026-12-02 21:00 UTC. */
async function generations(code: string, daysAgo: number[], o: { dateSubfolder?: boolean } = {}): Promise<number[]> {
  const ids: number[] = [];
  for (let i = daysAgo.length - 1; i >= 0; i--) {
    const r = await backup.backupDossier({ target: 'main', code, reason: 'manual', dateSubfolder: o.dateSubfolder ?? false });
    ids.unshift(r.generationId!);
    await pool().query(`UPDATE nightshift.backup_generation SET snapshot_at = timestamptz '2026-12-02 21:00:00+00' - make_interval(days => $2) WHERE id = $1`, [r.generationId, daysAgo[i]]);
  }
  return ids;
}

const byId = async (code: string) => new Map((await dossierGenerations(pool(), code, { deleted: true })).map((g) => [g.id, g]));
const prune = (code: string, policies: RetentionPolicies, o: { prunedBy?: string; dryRun?: boolean; offsiteConfigured?: boolean } = {}) =>
  pruneDossier(pool(), code, {
    policies,
    timeZone: 'Europe/Paris',
    prunedBy: o.prunedBy ?? 'backup-prune/main/test',
    dryRun: o.dryRun ?? false,
    offsiteStore: noOffsite,
    offsiteConfigured: o.offsiteConfigured ?? false,
  });

test('R-BK-11: what the policy does not keep is marked deleted and its file removed; B{code}.SVG stays the newest', async () => {
  const ids = await generations('PRU0001', [0, 1, 2, 3]);
  const before = await byId('PRU0001');
  const latest = before.get(ids[0]!)!.links[0]!;
  const r = await prune('PRU0001', everyKind({ last: 1, daily: 2 }));
  expect(r).toMatchObject({ deleted: 2, kept: 2, error: null });
  expect(r.bytesFreed).toBe(before.get(ids[2]!)!.size + before.get(ids[3]!)!.size);
  const after = await byId('PRU0001');
  for (const id of ids.slice(0, 2)) {
    expect(after.get(id)!.deletedAt).toBeNull();
    expect(exists(after.get(id)!.file)).toBe(true);
  }
  for (const id of ids.slice(2)) {
    expect(after.get(id)).toMatchObject({ deletedBy: 'backup-prune/main/test' });
    expect(after.get(id)!.deletedAt).not.toBeNull();
    expect(exists(after.get(id)!.file)).toBe(false);
  }
  // the seed's name is untouched: still the newest generation (one inode)
  expect(fs.statSync(latest).ino).toBe(fs.statSync(after.get(ids[0]!)!.file).ino);
  // a second prune finds nothing more
  expect(await prune('PRU0001', everyKind({ last: 1, daily: 2 }), { prunedBy: 'backup-prune/main/again' })).toMatchObject({ deleted: 0, kept: 2 });
});

test('R-BK-11: --dry-run decides the same and changes nothing', async () => {
  const ids = await generations('PRU0002', [0, 5, 40]);
  const plan = await planDossierPrune(pool(), 'PRU0002', everyKind({ last: 1 }), 'Europe/Paris', { offsiteConfigured: false });
  expect(plan.generations.map((g) => [g.id, g.decision.keep, g.decision.reasons])).toEqual([
    [ids[0], true, ['last 1']],
    [ids[1], false, []],
    [ids[2], false, []],
  ]);
  const r = await prune('PRU0002', everyKind({ last: 1 }), { dryRun: true });
  expect(r).toMatchObject({ deleted: 2, kept: 1 });
  const after = await byId('PRU0002');
  for (const id of ids) {
    expect(after.get(id)!.deletedAt).toBeNull();
    expect(exists(after.get(id)!.file)).toBe(true);
  }
});

test('R-BK-11: a generation a restore is reading (an unexpired lease) is not pruned; once released, it is', async () => {
  const ids = await generations('PRU0003', [0, 1, 2]);
  expect(await takeGenerationLease(pool(), ids[2]!, 'restore-dossier/main/PRU0003', 300)).toBe(true);
  const r = await prune('PRU0003', everyKind({ last: 1 }));
  expect(r).toMatchObject({ deleted: 1, leased: 1 });
  let after = await byId('PRU0003');
  expect(after.get(ids[2]!)!.deletedAt).toBeNull();
  expect(exists(after.get(ids[2]!)!.file)).toBe(true);
  expect(after.get(ids[1]!)!.deletedAt).not.toBeNull();
  // an expired lease is no reason to keep it
  await pool().query(`UPDATE nightshift.backup_generation_lease SET expires_at = now() - interval '1 second' WHERE generation_id = $1`, [ids[2]]);
  expect(await prune('PRU0003', everyKind({ last: 1 }))).toMatchObject({ deleted: 1, leased: 0 });
  await releaseGenerationLease(pool(), ids[2]!, 'restore-dossier/main/PRU0003');
  after = await byId('PRU0003');
  expect(exists(after.get(ids[2]!)!.file)).toBe(false);
  // and a lease on a pruned generation is refused (the reader is told it is gone)
  expect(await takeGenerationLease(pool(), ids[2]!, 'restore-dossier/main/PRU0003', 300)).toBe(false);
});

test('R-BK-11: the only valid generation is never deleted: kept ones all corrupt, the newest valid stays', async () => {
  const ids = await generations('PRU0004', [0, 1, 2, 3]);
  await markGenerationVerified(pool(), ids[0]!, { state: 'corrupt', error: 'checksum', restored: false });
  await markGenerationVerified(pool(), ids[1]!, { state: 'missing', error: 'gone', restored: false });
  fs.unlinkSync((await byId('PRU0004')).get(ids[1]!)!.file);
  await prune('PRU0004', everyKind({ last: 1 }));
  const after = await byId('PRU0004');
  // the missing one (no copy: nothing left of it) takes no slot and goes
  expect([ids[0], ids[1], ids[2], ids[3]].map((id) => after.get(id!)!.deletedAt === null)).toEqual([true, false, true, false]);
  const plan = await planDossierPrune(pool(), 'PRU0004', everyKind({ last: 1 }), 'UTC', { offsiteConfigured: false });
  expect(plan.generations.map((g) => g.decision.reasons)).toEqual([['last 1'], ['only valid generation']]);
});

test('R-BK-14: with off-site storage configured, a newer generation without a copy (a `backup dossier` backup) does not take the newest copy', async () => {
  const ids = await generations('PRU0008', [0, 1, 2]);
  await markGenerationOffsite(pool(), ids[1]!, { state: 'copied', bucket: 'b', key: 'k/PRU0008/1' });
  // no storage configured: copies never made do not hold it (as before)
  expect(await prune('PRU0008', everyKind({ last: 1 }), { dryRun: true })).toMatchObject({ deleted: 2, kept: 1 });
  const plan = await planDossierPrune(pool(), 'PRU0008', everyKind({ last: 1 }), 'UTC', { offsiteConfigured: true });
  expect(plan.generations.map((g) => [g.id, g.decision.reasons])).toEqual([
    [ids[0], ['last 1']],
    [ids[1], ['newest off-site copy (the newer ones have none)']],
    [ids[2], []],
  ]);
  expect(await prune('PRU0008', everyKind({ last: 1 }), { offsiteConfigured: true })).toMatchObject({ deleted: 1, kept: 2, error: null });
  const after = await byId('PRU0008');
  expect(ids.map((id) => after.get(id)!.deletedAt === null)).toEqual([true, true, false]);
});

test('R-BK-11 / R-BK-14: a generation recorded missing whose file is there again is kept (verify it), not deleted on an old finding', async () => {
  const ids = await generations('PRU0007', [0, 1]);
  await markGenerationVerified(pool(), ids[1]!, { state: 'missing', error: 'gone', restored: false });
  const dry = await prune('PRU0007', everyKind({ last: 5 }), { dryRun: true });
  expect(dry).toMatchObject({ deleted: 0, kept: 2 });
  await prune('PRU0007', everyKind({ last: 5 }));
  const after = await byId('PRU0007');
  expect([ids[0], ids[1]].map((id) => after.get(id!)!.deletedAt === null)).toEqual([true, true]);
  expect(exists(after.get(ids[1]!)!.file)).toBe(true);
});

test('R-BK-11: a retried prune (worker killed after the mark) removes the files of the rows it marked, once; ENOENT is fine', async () => {
  const ids = await generations('PRU0005', [0, 1, 2]);
  // the killed attempt: rows marked, nothing unlinked
  expect(await markGenerationsDeleted(pool(), [ids[1]!, ids[2]!], 'backup-prune/main/killed')).toEqual([ids[1], ids[2]]);
  const marked = await byId('PRU0005');
  expect(exists(marked.get(ids[1]!)!.file)).toBe(true);
  // half done already: one file gone
  fs.unlinkSync(marked.get(ids[2]!)!.file);
  const r = await prune('PRU0005', everyKind({ last: 1 }), { prunedBy: 'backup-prune/main/killed' });
  expect(r).toMatchObject({ deleted: 0, error: null });
  expect(r.bytesFreed).toBe(marked.get(ids[1]!)!.size);
  const after = await byId('PRU0005');
  expect(exists(after.get(ids[1]!)!.file)).toBe(false);
  // marked once: the first mark's time stays
  expect(after.get(ids[1]!)!.deletedAt).toEqual(marked.get(ids[1]!)!.deletedAt);
  expect(exists(after.get(ids[0]!)!.file)).toBe(true);
});

test('R-BK-11: the prune\'s totals come from the rows, whatever attempt removed the files: a file an earlier attempt removed counts, one gone before the prune (recorded missing when marked) does not', async () => {
  const ids = await generations('PRU0009', [0, 1, 2, 3]);
  const before = await byId('PRU0009');
  const prunedBy = 'backup-prune/main/ledger';
  // deleted by hand before the prune: it frees nothing
  fs.unlinkSync(before.get(ids[3]!)!.file);
  // the first attempt marks and removes, then dies before it answers: its retry finds the files gone
  const first = await prune('PRU0009', everyKind({ last: 1 }), { prunedBy });
  expect(first).toMatchObject({ deleted: 3, error: null });
  const retry = await prune('PRU0009', everyKind({ last: 1 }), { prunedBy });
  expect(retry).toMatchObject({ deleted: 0, bytesFreed: 0, error: null });
  const after = await byId('PRU0009');
  expect(after.get(ids[3]!)).toMatchObject({ deletedBy: prunedBy, verifyState: 'missing' });
  expect(after.get(ids[1]!)!.verifyState).not.toBe('missing');
  const freed = before.get(ids[1]!)!.size + before.get(ids[2]!)!.size;
  expect(first.bytesFreed).toBe(freed);
  expect(await pruneTotals(pool(), prunedBy)).toEqual({ deleted: 3, bytesFreed: freed, offsiteDeleted: 0, offsiteFinished: 0, finishedFor: [], recordedDeleted: 3, offsiteLeft: 0 });
});

test('R-BK-11 / R-BK-5: a date sub-folder link goes with its generation (and the folder once empty); a B{code}.SVG that is a newer generation stays', async () => {
  const ids = await generations('PRU0006', [0, 1, 2], { dateSubfolder: true });
  const gens = await byId('PRU0006');
  const link = gens.get(ids[2]!)!.links[0]!;
  // all three were written today into one date sub-folder: the name is the newest's now
  expect(path.basename(path.dirname(link))).toMatch(/^\d{8}$/);
  expect(gens.get(ids[0]!)!.links[0]).toBe(link);
  // an older day's folder holding only a pruned generation's link: made by hand, as an older night's run left it
  const oldDir = path.join(path.dirname(path.dirname(link)), '20261101');
  fs.mkdirSync(oldDir, { recursive: true });
  const oldLink = path.join(oldDir, 'BPRU0006.SVG');
  fs.linkSync(gens.get(ids[2]!)!.file, oldLink);
  await pool().query('UPDATE nightshift.backup_generation SET links = links || $2::text[] WHERE id = $1', [ids[2], [oldLink]]);

  await prune('PRU0006', everyKind({ last: 1 }));
  expect(fs.statSync(link).ino).toBe(fs.statSync(gens.get(ids[0]!)!.file).ino);
  expect(exists(oldLink)).toBe(false);
  expect(exists(oldDir)).toBe(false);
  expect(exists(gens.get(ids[2]!)!.file)).toBe(false);
});
