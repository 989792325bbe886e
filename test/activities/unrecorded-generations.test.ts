import fs from 'node:fs';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { createPruneActivities, pruneDossier } from '../../activities/prune';
import { verifyArchive } from '../../archive/engine';
import { generationFileName, generationsDir } from '../../archive/generations';
import { FailureType } from '../../domain/failures';
import type { RetentionPolicies, RetentionPolicy } from '../../domain/retention';
import { generateDemoDossiers } from '../../registry/demo';
import { STORE_MARKER_FILE, claimSharedFolder } from '../../shared-store/marker';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { markGenerationsDeleted } from '../../store/generations/mark-deleted';
import { loadBackupSettings } from '../../store/settings/backup-settings';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * Files a backup committed and never recorded (R-BK-11: every archive kept is a generation, and retention decides
 * how long; R-BK-12: client data encrypted at rest is still client data, never kept outside the catalogue): the
 * engine removes its own when the record fails; the prune sweeps those a killed worker left. On real PostgreSQL: the
 * record made to fail by a constraint, a connection terminated by the server, a COMMIT refused.
 */

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;
let folder: string;
const pool = () => stack.pools.get('main');
const noOffsite = () => undefined;
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, ...p });
const keepAll: RetentionPolicies = { normal: policy({ last: 50 }), EchangePrest: policy({ last: 50 }), Cloture: policy({ last: 50 }) };
const HOUR = 3600_000;

beforeAll(async () => {
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  await generateDemoDossiers(pool(), { target: 'main', count: 8, sizeKb: 10, prefix: 'UNR' });
  folder = (await loadBackupSettings(pool(), stack.config, 'main')).settings.folder;
});
afterAll(async () => {
  await stack.close();
});

const genDir = (code: string, kindRoot = folder) => generationsDir(kindRoot, code);
const listDir = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
const exists = (f: string) => fs.existsSync(f);

/** A file as a killed backup leaves it: a real archive under a generation's name of `snapshotAt`, last written `writtenAgoMs` ago. */
function leaveFile(code: string, snapshotAt: Date, o: { from: string; kindRoot?: string; writtenAgoMs?: number }): string {
  const file = path.join(genDir(code, o.kindRoot), generationFileName(code, snapshotAt));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(o.from, file);
  const at = new Date(Date.now() - (o.writtenAgoMs ?? 2 * HOUR));
  fs.utimesSync(file, at, at);
  return file;
}

const prune = (code: string, o: { dryRun?: boolean; backupFolder?: string } = {}) =>
  pruneDossier(pool(), code, { policies: keepAll, timeZone: 'Europe/Paris', prunedBy: 'backup-prune/main/unrecorded', dryRun: o.dryRun ?? false, offsiteStore: noOffsite, offsiteConfigured: false, backupFolder: o.backupFolder ?? folder });

describe('the engine: a generation file committed but not recorded is removed', () => {
  /** One backup whose record PostgreSQL refuses (`how`, scoped to the dossier), and what is left. */
  async function failedRecord(code: string, install: string, uninstall: string) {
    const first = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    const before = listDir(genDir(code));
    await pool().query(install);
    let error: unknown;
    try {
      await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    } catch (err) {
      error = err;
    } finally {
      await pool().query(uninstall);
    }
    return { first, before, error, after: listDir(genDir(code)), rows: await dossierGenerations(pool(), code, { deleted: true }) };
  }

  test('R-BK-11: a statement refused (check violation): the file goes, B{code}.SVG keeps the newer archive through its own name', async () => {
    const r = await failedRecord(
      'UNR0001',
      `ALTER TABLE nightshift.backup_generation ADD CONSTRAINT test_refuse_unr0001 CHECK (code <> 'UNR0001') NOT VALID`,
      'ALTER TABLE nightshift.backup_generation DROP CONSTRAINT test_refuse_unr0001',
    );
    expect((r.error as { code?: string }).code).toBe('23514');
    expect(r.after).toEqual(r.before);
    expect(r.rows.map((g) => g.id)).toEqual([r.first.generationId]);
    // the seed's name is the failed attempt's archive: complete, valid, newer than the recorded one
    const latest = await verifyArchive(r.first.file);
    expect(latest.code).toBe('UNR0001');
    expect(fs.statSync(r.first.file).ino).not.toBe(fs.statSync(r.rows[0]!.file).ino);
    expect(fs.statSync(r.first.file).nlink).toBe(1);
    // the dossier was not recorded backed up by it: the next backup records one, found by the prune as any other
    const next = await backup.backupDossier({ target: 'main', code: 'UNR0001', reason: 'manual' });
    expect(listDir(genDir('UNR0001'))).toHaveLength(2);
    expect(fs.statSync(next.file).ino).toBe(fs.statSync((await dossierGenerations(pool(), 'UNR0001'))[0]!.file).ino);
  });

  test('R-BK-11: the connection terminated by the server while recording (as PostgreSQL restarted): the file goes', async () => {
    await pool().query(`CREATE FUNCTION public.test_unr_kill() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); RETURN NEW; END $$`);
    const r = await failedRecord(
      'UNR0002',
      `CREATE TRIGGER test_unr_kill BEFORE INSERT ON nightshift.backup_generation FOR EACH ROW WHEN (NEW.code = 'UNR0002') EXECUTE FUNCTION public.test_unr_kill()`,
      'DROP TRIGGER test_unr_kill ON nightshift.backup_generation',
    );
    await pool().query('DROP FUNCTION public.test_unr_kill()');
    expect(String((r.error as Error).message)).toMatch(/terminat|Connection/i);
    expect(r.after).toEqual(r.before);
    expect(r.rows.map((g) => g.id)).toEqual([r.first.generationId]);
    // the pool is whole again: the next backup records
    await expect(backup.backupDossier({ target: 'main', code: 'UNR0002', reason: 'manual' })).resolves.toMatchObject({ code: 'UNR0002' });
  });

  test('R-BK-11: the COMMIT refused (a deferred constraint): the row is looked for, not there, and the file goes', async () => {
    await pool().query(`CREATE FUNCTION public.test_unr_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'unique_violation'; END $$`);
    const r = await failedRecord(
      'UNR0003',
      `CREATE CONSTRAINT TRIGGER test_unr_refuse AFTER INSERT ON nightshift.backup_generation DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.code = 'UNR0003') EXECUTE FUNCTION public.test_unr_refuse()`,
      'DROP TRIGGER test_unr_refuse ON nightshift.backup_generation',
    );
    await pool().query('DROP FUNCTION public.test_unr_refuse()');
    expect(r.error).toMatchObject({ code: '23505', message: 'refused at commit' });
    expect(r.after).toEqual(r.before);
    expect(r.rows.map((g) => g.id)).toEqual([r.first.generationId]);
  });
});

describe('the prune: files left by interrupted backups (a killed worker: no catch ran)', () => {
  test('R-BK-11: one older than the newest recorded generation is deleted and counted; newer, fresh, recorded (even pruned) or other names stay', async () => {
    const code = 'UNR0004';
    const older = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    const newest = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    const [newestGen, olderGen] = await dossierGenerations(pool(), code);
    expect(newestGen!.id).toBe(newest.generationId);
    const at = newestGen!.snapshotAt.getTime();

    const orphan = leaveFile(code, new Date(at - 24 * HOUR), { from: newestGen!.file });
    // an event backup killed in its own kind's folder (no row of that kind yet)
    const orphanCloture = leaveFile(code, new Date(at - 2 * HOUR), { from: newestGen!.file, kindRoot: path.join(folder, 'Cloture') });
    // a backup writing or recording now: newer than the newest recorded
    const newer = leaveFile(code, new Date(at + 60_000), { from: newestGen!.file });
    // older by name, but written a minute ago: a backup beside another one, between its link and its record
    const fresh = leaveFile(code, new Date(at - HOUR), { from: newestGen!.file, writtenAgoMs: 60_000 });
    // the same second as the newest: not older (the name says seconds only)
    const sameSecond = leaveFile(code, new Date(Math.floor(at / 1000) * 1000), { from: newestGen!.file });
    const other = path.join(genDir(code), 'notes.txt');
    fs.writeFileSync(other, 'kept by the operator');
    // a row pruned long ago whose file is still there: recorded, so not the sweep's
    await markGenerationsDeleted(pool(), [olderGen!.id], 'backup-prune/main/long-ago');
    await pool().query(`UPDATE nightshift.backup_generation SET deleted_at = now() - interval '60 days' WHERE id = $1`, [olderGen!.id]);
    const size = fs.statSync(orphan).size + fs.statSync(orphanCloture).size;

    const dry = await prune(code, { dryRun: true });
    expect(dry).toMatchObject({ unrecorded: 2, unrecordedBytes: size, deleted: 0, error: null });
    for (const f of [orphan, orphanCloture]) expect(exists(f)).toBe(true);

    const r = await prune(code);
    expect(r).toMatchObject({ unrecorded: 2, unrecordedBytes: size, deleted: 0, error: null });
    expect(exists(orphan)).toBe(false);
    expect(exists(orphanCloture)).toBe(false);
    for (const f of [newer, fresh, sameSecond, other, olderGen!.file, newestGen!.file, newest.file, older.file]) expect(exists(f)).toBe(true);
    // the rows are as they were: nothing recorded about files no row named
    expect((await dossierGenerations(pool(), code, { deleted: true })).map((g) => g.id).sort()).toEqual([olderGen!.id, newestGen!.id].sort());
    expect(await prune(code)).toMatchObject({ unrecorded: 0, unrecordedBytes: 0 });

    // once a newer generation is recorded, the one that was newer is an orphan too (its file was never recorded)
    const later = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    await pool().query(`UPDATE nightshift.backup_generation SET snapshot_at = $2 WHERE id = $1`, [later.generationId, new Date(at + 2 * HOUR)]);
    expect(await prune(code)).toMatchObject({ unrecorded: 2 });
    expect(exists(newer)).toBe(false);
    expect(exists(sameSecond)).toBe(false);
    expect(exists(fresh)).toBe(true);
  });

  test('R-BK-11: a dossier with no recorded generation keeps whatever is in its folder (nothing says it is older)', async () => {
    const code = 'UNR0005';
    const donor = (await dossierGenerations(pool(), 'UNR0004'))[0]!.file;
    const left = leaveFile(code, new Date(Date.now() - 48 * HOUR), { from: donor });
    expect(await prune(code, { dryRun: true })).toMatchObject({ unrecorded: 0 });
    expect(await prune(code)).toMatchObject({ unrecorded: 0, deleted: 0, kept: 0 });
    expect(exists(left)).toBe(true);
    // and every pruned row too: none is kept, none is newer
    const g = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    await markGenerationsDeleted(pool(), [g.generationId!], 'backup-prune/main/all');
    expect(await prune(code)).toMatchObject({ unrecorded: 0 });
    expect(exists(left)).toBe(true);
  });

  test('R-BK-11 / issue 10: the prune chunk sweeps only a folder that is the shared store (an unmounted share deletes nothing)', async () => {
    const code = 'UNR0006';
    await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    const [g] = await dossierGenerations(pool(), code);
    const left = leaveFile(code, new Date(g!.snapshotAt.getTime() - 24 * HOUR), { from: g!.file });
    expect((await claimSharedFolder(pool(), 'backups', folder)).state).toBe('ok');
    const marker = path.join(folder, STORE_MARKER_FILE);
    const saved = fs.readFileSync(marker);
    const prunes = createPruneActivities({ config: stack.config, pools: stack.pools, offsiteStore: noOffsite });
    const chunk = { target: 'main', codes: [code], prunedBy: 'backup-prune/main/chunk', policies: keepAll, timeZone: 'Europe/Paris' };
    fs.rmSync(marker);
    try {
      await expect(prunes.pruneChunk(chunk)).rejects.toMatchObject({ type: FailureType.DestinationUnavailable });
      expect(exists(left)).toBe(true);
    } finally {
      fs.writeFileSync(marker, saved);
    }
    expect(await prunes.pruneChunk({ ...chunk, dryRun: true })).toMatchObject({ unrecorded: 1, failed: 0 });
    expect(exists(left)).toBe(true);
    expect(await prunes.pruneChunk(chunk)).toMatchObject({ unrecorded: 1, unrecordedBytes: g!.size, failed: 0 });
    expect(exists(left)).toBe(false);
  });
});
