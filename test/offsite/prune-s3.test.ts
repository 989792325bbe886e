import fs from 'node:fs';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { createBackupActivities } from '../../activities/backup';
import { copyGenerationOffsite } from '../../activities/offsite';
import { pruneDossier } from '../../activities/prune';
import type { RetentionPolicies, RetentionPolicy } from '../../domain/retention';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { generateDemoDossiers } from '../../registry/demo';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { takeGenerationLease } from '../../store/generations/lease';
import { markGenerationOffsite } from '../../store/generations/mark-offsite';
import { pruneTotals } from '../../store/generations/prune-totals';
import { createTestStack, type TestStack } from '../helpers/env';
import { startS3Server, type S3TestServer } from '../helpers/s3';

/**
 * R-BK-11 / R-BK-14: the prune deletes the off-site copies of the generations retention drops, on a real
 * S3-compatible server (versitygw) and real PostgreSQL; generations made by real backups and copied by the
 * batch's own copy step, their times set by fixture SQL.
 */

let stack: TestStack;
let s3: S3TestServer;
let store: OffsiteStore;
let backup: ReturnType<typeof createBackupActivities>;
const pool = () => stack.pools.get('main');
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, ...p });
const everyKind = (p: Partial<RetentionPolicy>): RetentionPolicies => ({ normal: policy(p), EchangePrest: policy(p), Cloture: policy(p) });

beforeAll(async () => {
  s3 = await startS3Server();
  stack = await createTestStack(s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'prune/' }));
  store = createOffsiteStore(stack.config.offsite!);
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  await generateDemoDossiers(pool(), { target: 'main', count: 6, sizeKb: 10, prefix: 'PS' });
});
afterAll(async () => {
  store?.close();
  await stack?.close();
  await s3?.stop();
});

/** Backups of a dossier dated `daysAgo` (newest first), each copied off-site by the batch's copy step; their ids, newest first. */
async function copiedGenerations(code: string, daysAgo: number[]): Promise<number[]> {
  const ids: number[] = [];
  for (let i = daysAgo.length - 1; i >= 0; i--) {
    const r = await backup.backupDossier({ target: 'main', code, reason: 'manual', dateSubfolder: false });
    await pool().query(`UPDATE nightshift.backup_generation SET snapshot_at = timestamptz '2026-12-02 21:00:00+00' - make_interval(days => $2) WHERE id = $1`, [r.generationId, daysAgo[i]]);
    const copy = await copyGenerationOffsite({ db: pool(), store: () => store, target: 'main', generationId: r.generationId! });
    expect(copy.ok).toBe(true);
    ids.unshift(r.generationId!);
  }
  return ids;
}

const byId = async (code: string) => new Map((await dossierGenerations(pool(), code, { deleted: true })).map((g) => [g.id, g]));
const objectThere = async (key: string | null) => (await store.head(key!)) !== undefined;
const prune = (code: string, policies: RetentionPolicies, o: { prunedBy: string; dryRun?: boolean; afterMark?: (code: string) => Promise<void> }) =>
  pruneDossier(pool(), code, {
    policies,
    timeZone: 'Europe/Paris',
    prunedBy: o.prunedBy,
    dryRun: o.dryRun ?? false,
    offsiteStore: () => store,
    offsiteConfigured: true,
    hooks: { afterMark: o.afterMark },
  });

test('R-BK-11 / R-BK-14: the objects of the generations retention drops are deleted; those of kept and leased generations stay', async () => {
  const ids = await copiedGenerations('PS0001', [0, 1, 2, 3]);
  const before = await byId('PS0001');
  for (const id of ids) expect(await objectThere(before.get(id)!.offsiteKey)).toBe(true);
  // a restore reads the oldest: its lease keeps it, file and object
  expect(await takeGenerationLease(pool(), ids[3]!, 'restore-dossier/main/PS0001', 300)).toBe(true);

  const r = await prune('PS0001', everyKind({ last: 1 }), { prunedBy: 'backup-prune/main/s3-1' });
  expect(r).toMatchObject({ deleted: 2, kept: 2, leased: 1, offsiteDeleted: 2, error: null });
  const after = await byId('PS0001');
  for (const id of [ids[0]!, ids[3]!]) {
    expect(after.get(id)).toMatchObject({ deletedAt: null, offsiteState: 'copied' });
    expect(await objectThere(after.get(id)!.offsiteKey)).toBe(true);
  }
  for (const id of [ids[1]!, ids[2]!]) {
    expect(after.get(id)).toMatchObject({ deletedBy: 'backup-prune/main/s3-1', offsiteState: 'deleted' });
    expect(await objectThere(after.get(id)!.offsiteKey)).toBe(false);
    expect(fs.existsSync(after.get(id)!.file)).toBe(false);
  }
  expect((await store.listDossier('main', 'PS0001')).map((o) => o.key).sort()).toEqual([after.get(ids[0]!)!.offsiteKey, after.get(ids[3]!)!.offsiteKey].sort());
  expect(await pruneTotals(pool(), 'backup-prune/main/s3-1')).toMatchObject({ deleted: 2, offsiteDeleted: 2 });
});

test('R-BK-11 / R-BK-14: --dry-run deletes nothing in the bucket', async () => {
  const ids = await copiedGenerations('PS0002', [0, 5, 40]);
  const r = await prune('PS0002', everyKind({ last: 1 }), { prunedBy: 'backup-prune/main/dry', dryRun: true });
  expect(r).toMatchObject({ deleted: 2, kept: 1, offsiteDeleted: 0 });
  const after = await byId('PS0002');
  for (const id of ids) {
    expect(after.get(id)).toMatchObject({ deletedAt: null, offsiteState: 'copied' });
    expect(await objectThere(after.get(id)!.offsiteKey)).toBe(true);
  }
  expect(await store.listDossier('main', 'PS0002')).toHaveLength(3);
});

test('R-BK-11 / R-BK-14: the S3 server stopped mid-prune: the failure names the dossier and generation, the rows say the objects are still there, a later prune deletes them as the earlier prune\'s work, not as its deletions', async () => {
  const a = await copiedGenerations('PS0003', [0, 1, 2]);
  const b = await copiedGenerations('PS0004', [0, 1, 2]);
  const first = 'backup-prune/main/s3-stopped';
  // PS0003 pruned whole; the server stops once PS0004's rows are marked, before its objects are deleted
  const ga = await byId('PS0003');
  const ra = await prune('PS0003', everyKind({ last: 1 }), { prunedBy: first });
  expect(ra).toMatchObject({ deleted: 2, offsiteDeleted: 2, error: null });
  const rb = await prune('PS0004', everyKind({ last: 1 }), { prunedBy: first, afterMark: () => s3.kill() });
  const gb = await byId('PS0004');
  // it deleted them (rows marked, files removed); their copies are left
  expect(rb).toMatchObject({ deleted: 2, offsiteDeleted: 0, offsiteFinished: 0 });
  expect(rb.bytesFreed).toBe(gb.get(b[1]!)!.size + gb.get(b[2]!)!.size);
  for (const id of [b[1]!, b[2]!]) {
    const g = gb.get(id)!;
    // reported by generation (id, date) and object; the fan-out engine puts the dossier's code with it
    expect(rb.error).toContain(`generation ${id} (${g.snapshotAt.toISOString()}), its copy: off-site storage failed while deleting ${g.offsiteKey} (`);
    // truthful: pruned locally (file gone), its copy still recorded as there
    expect(g).toMatchObject({ deletedBy: first, offsiteState: 'copied' });
    expect(fs.existsSync(g.file)).toBe(false);
  }
  expect(rb.error).toMatch(/^not removed: /);
  // what the prune's end reads: the four it deleted and their bytes, PS0004's two with their objects left
  const firstBytes = [a[1]!, a[2]!].reduce((n, id) => n + ga.get(id)!.size, 0) + [b[1]!, b[2]!].reduce((n, id) => n + gb.get(id)!.size, 0);
  expect(await pruneTotals(pool(), first)).toEqual({ deleted: 4, bytesFreed: firstBytes, offsiteDeleted: 2, offsiteFinished: 0, finishedFor: [], recordedDeleted: 4, offsiteLeft: 2 });

  await s3.restart();
  for (const id of [b[1]!, b[2]!]) expect(await objectThere(gb.get(id)!.offsiteKey)).toBe(true);
  // the next prune (nothing new to decide) finishes the job: the earlier prune's, said apart from its own deletions
  const later = 'backup-prune/main/s3-later';
  const again = await prune('PS0004', everyKind({ last: 1 }), { prunedBy: later });
  expect(again).toMatchObject({ deleted: 0, bytesFreed: 0, offsiteDeleted: 0, offsiteFinished: 2, error: null });
  const done = await byId('PS0004');
  for (const id of [b[1]!, b[2]!]) {
    expect(done.get(id)).toMatchObject({ deletedBy: first, offsiteState: 'deleted' });
    expect(await objectThere(done.get(id)!.offsiteKey)).toBe(false);
  }
  expect(await pruneTotals(pool(), later)).toEqual({ deleted: 0, bytesFreed: 0, offsiteDeleted: 0, offsiteFinished: 2, finishedFor: [first], recordedDeleted: 0, offsiteLeft: 0 });
  expect(await pruneTotals(pool(), first)).toMatchObject({ deleted: 4, bytesFreed: firstBytes, offsiteDeleted: 2, offsiteLeft: 0 });
  expect((await store.listDossier('main', 'PS0004')).map((o) => o.key)).toEqual([done.get(b[0]!)!.offsiteKey]);
  // and once done, nothing more
  expect(await prune('PS0004', everyKind({ last: 1 }), { prunedBy: 'backup-prune/main/s3-third' })).toMatchObject({ deleted: 0, offsiteDeleted: 0, offsiteFinished: 0, error: null });
  expect((await byId('PS0003')).get(a[0]!)!.deletedAt).toBeNull();
});

test('R-BK-14: a copy recorded failed whose object was stored all the same (its answer lost) is deleted with its generation; one that left nothing counts no deletion', async () => {
  const ids = await copiedGenerations('PS0005', [0, 1, 2]);
  const gens = await byId('PS0005');
  // both older copies recorded failed; the object of ids[1] is in the bucket, that of ids[2] is not
  await store.deleteObject(gens.get(ids[2]!)!.offsiteKey!);
  for (const id of [ids[1]!, ids[2]!]) await markGenerationOffsite(pool(), id, { state: 'failed', error: 'off-site copy failed: socket hang up' });
  const r = await prune('PS0005', everyKind({ last: 1 }), { prunedBy: 'backup-prune/main/failed-copies' });
  expect(r).toMatchObject({ deleted: 2, offsiteDeleted: 1, error: null });
  const after = await byId('PS0005');
  for (const id of [ids[1]!, ids[2]!]) expect(after.get(id)).toMatchObject({ offsiteState: 'deleted' });
  expect(await objectThere(gens.get(ids[1]!)!.offsiteKey)).toBe(false);
  expect(await store.listDossier('main', 'PS0005')).toHaveLength(1);
  expect(await pruneTotals(pool(), 'backup-prune/main/failed-copies')).toMatchObject({ deleted: 2, offsiteDeleted: 1 });
});

test('R-BK-14: after NIGHTSHIFT_OFFSITE_S3_BUCKET changed, the prune deletes a dropped copy in the bucket it was copied to, and only then records it deleted', async () => {
  const ids = await copiedGenerations('PS0006', [0, 1]);
  const old = (await byId('PS0006')).get(ids[1]!)!;
  expect(old.offsiteBucket).toBe(s3.bucket);
  const admin = s3.client();
  await admin.send(new CreateBucketCommand({ Bucket: 'nightshift-moved' }));
  admin.destroy();
  const moved = createOffsiteStore({ ...stack.config.offsite!, bucket: 'nightshift-moved' });
  try {
    const r = await pruneDossier(pool(), 'PS0006', { policies: everyKind({ last: 1 }), timeZone: 'Europe/Paris', prunedBy: 'backup-prune/main/moved', dryRun: false, offsiteStore: () => moved, offsiteConfigured: true, hooks: {} });
    expect(r).toMatchObject({ deleted: 1, offsiteDeleted: 1, error: null });
    expect((await byId('PS0006')).get(ids[1]!)).toMatchObject({ offsiteState: 'deleted' });
    // gone from the bucket it was in (it used to stay there, recorded deleted)
    expect(await objectThere(old.offsiteKey)).toBe(false);
    expect(await store.listDossier('main', 'PS0006')).toHaveLength(1);
  } finally {
    moved.close();
  }
});
