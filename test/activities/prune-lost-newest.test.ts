import fs from 'node:fs';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { pruneDossier } from '../../activities/prune';
import { MIGRATIONS_DIR } from '../../db/migrate';
import type { RetentionPolicies, RetentionPolicy } from '../../domain/retention';
import { generateDemoDossiers } from '../../registry/demo';
import { selectPage } from '../../store/backup/select-page';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { markGenerationsDeleted } from '../../store/generations/mark-deleted';
import { markGenerationVerified } from '../../store/generations/mark-verified';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * Tester finding (R-BK-2, R-BK-11, R-BK-13): a dossier whose archive a verification found missing was taken by the next
 * nightly batch only while the generation's record existed; a prune run first deleted it, and the dossier fell out of
 * every later batch with no backup. Real backups, a real prune, the batch's own selection statement.
 */

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;
let runId: number;
const pool = () => stack.pools.get('main');
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, ...p });
const everyKind = (p: Partial<RetentionPolicy>): RetentionPolicies => ({ normal: policy(p), EchangePrest: policy(p), Cloture: policy(p) });

beforeAll(async () => {
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  await generateDemoDossiers(pool(), { target: 'main', count: 8, sizeKb: 10, prefix: 'LOST' });
  await pool().query(`UPDATE nightshift.dossier SET is_template = false, is_test = false, is_transferable = true, copy_status = 'original' WHERE code LIKE 'LOST%'`);
  // a nightly batch's run (modified only, no bucket), closed so that it claims nothing: its selection is what is read
  const settings = { destinationDir: '/b', documents: false, copyStatuses: ['original', 'copy'], modifiedOnly: true, reportFolder: '/b/log', reportRecipients: [] };
  const { rows } = await pool().query<{ id: string }>(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings) VALUES ('lost-nightly', 'run', 'completed', $1) RETURNING id`, [settings]);
  runId = Number(rows[0]!.id);
});
afterAll(async () => {
  await stack.close();
});

const nightly = async () => selectPage(pool(), runId, 'rest', '', 1000);
const prune = (code: string, p: Partial<RetentionPolicy> = { last: 2, daily: 7, weekly: 4, monthly: 3 }) =>
  pruneDossier(pool(), code, { policies: everyKind(p), timeZone: 'Europe/Paris', prunedBy: 'backup-prune/main/test', dryRun: false, offsiteStore: () => undefined, offsiteConfigured: false });
const dossier = async (code: string) =>
  (await pool().query<{ last_backup_at: Date | null; backup_seq: string | null; modified: boolean }>(
    'SELECT last_backup_at, backup_seq, (backup_seq IS NULL OR change_seq > backup_seq) AS modified FROM nightshift.dossier WHERE code = $1',
    [code],
  )).rows[0]!;
/** a write to the dossier, as its touch trigger records one */
const modify = (code: string) => pool().query(`UPDATE nightshift.dossier SET change_seq = nextval('nightshift.change_seq') WHERE code = $1`, [code]);
async function backupDossier(code: string, daysAgo: number): Promise<number> {
  const r = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
  await pool().query(`UPDATE nightshift.backup_generation SET snapshot_at = now() - make_interval(days => $2) WHERE id = $1`, [r.generationId, daysAgo]);
  return r.generationId!;
}
/** a verification found its file missing (it is gone from the disk) */
async function lose(code: string, id: number): Promise<void> {
  const g = (await dossierGenerations(pool(), code)).find((x) => x.id === id)!;
  fs.rmSync(g.file);
  await markGenerationVerified(pool(), id, { state: 'missing', error: 'ENOENT', restored: false });
}

test('its only generation found missing, then pruned: the next nightly batch still takes the dossier, as never backed up; its backup puts it back to unmodified', async () => {
  const id = await backupDossier('LOST0001', 1);
  const before = await dossier('LOST0001');
  expect(await nightly()).not.toContain('LOST0001');
  await lose('LOST0001', id);
  expect(await nightly()).toContain('LOST0001'); // the unreadable-newest rule, while the record is there

  expect(await prune('LOST0001')).toMatchObject({ deleted: 1, kept: 0 });
  expect((await dossierGenerations(pool(), 'LOST0001')).map((g) => g.id)).toEqual([]);
  expect(await nightly()).toContain('LOST0001');
  // MODIFIED? yes; the last backup's date stays (it only moves forward)
  expect(await dossier('LOST0001')).toEqual({ last_backup_at: before.last_backup_at, backup_seq: null, modified: true });

  await backupDossier('LOST0001', 0);
  expect(await nightly()).not.toContain('LOST0001');
  // a later prune that deletes nothing of the newest leaves it so
  expect(await prune('LOST0001')).toMatchObject({ deleted: 0 });
  expect(await nightly()).not.toContain('LOST0001');
});

test('its newest generation found missing and pruned, an older one kept: taken when its data changed since that one, not when that one holds it', async () => {
  // changed between the two backups: the kept archive is older than the data
  const older = await backupDossier('LOST0002', 3);
  await modify('LOST0002');
  const newest = await backupDossier('LOST0002', 1);
  await lose('LOST0002', newest);
  expect(await prune('LOST0002')).toMatchObject({ deleted: 1, kept: 1 });
  expect((await dossierGenerations(pool(), 'LOST0002')).map((g) => g.id)).toEqual([older]);
  expect(await nightly()).toContain('LOST0002');
  expect((await dossier('LOST0002')).backup_seq).toBe((await dossierGenerations(pool(), 'LOST0002'))[0]!.changeSeq);

  // unchanged between them (a backup --all): the kept archive holds the current data, nothing to take
  await backupDossier('LOST0003', 3);
  const same = await backupDossier('LOST0003', 1);
  const seq = (await dossier('LOST0003')).backup_seq;
  await lose('LOST0003', same);
  expect(await prune('LOST0003')).toMatchObject({ deleted: 1, kept: 1 });
  expect(await nightly()).not.toContain('LOST0003');
  expect((await dossier('LOST0003')).backup_seq).toBe(seq);
});

test('a prune that deletes older generations by the policy (or an old one nothing is left of) does not make the dossier modified', async () => {
  const ids = [await backupDossier('LOST0004', 3)];
  await modify('LOST0004');
  ids.unshift(await backupDossier('LOST0004', 2));
  await modify('LOST0004');
  ids.unshift(await backupDossier('LOST0004', 1));
  const seq = (await dossier('LOST0004')).backup_seq;
  await lose('LOST0004', ids[2]!);
  expect(await prune('LOST0004', { last: 1 })).toMatchObject({ deleted: 2, kept: 1 });
  expect(await dossier('LOST0004')).toMatchObject({ backup_seq: seq, modified: false });
  expect(await nightly()).not.toContain('LOST0004');
});

test('migration 0031: the dossiers a prune left so before it are taken again; the others are not touched', async () => {
  const up = fs.readFileSync(path.join(MIGRATIONS_DIR, '0031_backup-lost-newest-retaken.sql'), 'utf8').split('-- Down Migration')[0]!;
  // as the prune did before: the records deleted, backup_seq left as it was
  const only = await backupDossier('LOST0005', 1);
  await lose('LOST0005', only);
  await markGenerationsDeleted(pool(), [only], 'backup-prune/main/before');
  await backupDossier('LOST0006', 3);
  await modify('LOST0006');
  const newest = await backupDossier('LOST0006', 1);
  await lose('LOST0006', newest);
  await markGenerationsDeleted(pool(), [newest], 'backup-prune/main/before');
  // untouched: older generations pruned by the policy; a dossier backed up before generations existed (none recorded)
  const old = await backupDossier('LOST0007', 3);
  await backupDossier('LOST0007', 1);
  await markGenerationsDeleted(pool(), [old], 'backup-prune/main/before');
  await pool().query(`UPDATE nightshift.dossier SET backup_seq = change_seq, last_backup_at = now() WHERE code = 'LOST0008'`);
  const untouched = await Promise.all(['LOST0007', 'LOST0008'].map(dossier));
  expect(await nightly()).not.toContain('LOST0005');
  expect(await nightly()).not.toContain('LOST0006');

  await pool().query(up);
  const selected = await nightly();
  expect(selected).toEqual(expect.arrayContaining(['LOST0005', 'LOST0006']));
  expect(selected).not.toContain('LOST0007');
  expect(selected).not.toContain('LOST0008');
  expect(await dossier('LOST0005')).toMatchObject({ backup_seq: null, modified: true });
  expect(await Promise.all(['LOST0007', 'LOST0008'].map(dossier))).toEqual(untouched);
  // run again (it is one pass, and idempotent): nothing more changes
  const after = await Promise.all(['LOST0005', 'LOST0006'].map(dossier));
  await pool().query(up);
  expect(await Promise.all(['LOST0005', 'LOST0006'].map(dossier))).toEqual(after);
});
