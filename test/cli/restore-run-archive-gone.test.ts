import fs from 'node:fs';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { generateDemoDossiers } from '../../registry/demo';
import { backUp, contentsOf, writeTo } from '../workflows/backup-restore-run-helpers';

/**
 * Tester C: a restore run over a dossier whose newest generation at or before DATE had its archive deleted by hand (no
 * off-site copy, no verification since) takes the next older one that is there, as it does for one found corrupt
 * (R-BK-11, R-BK-14); the dry runs (`backup restore --dry-run`, `backup run --dry-run`) agree with what the runs do.
 */

jest.setTimeout(300_000);
const ctx = useCliStack(120_000);
const UTC = { TZ: 'UTC', NIGHTSHIFT_TIMEZONE: 'UTC' };
const cli = (args: string[]) => ctx.cli(args, UTC);

test('R-BK-11 R-BK-14: a restore run takes the next older generation at or before DATE when the newest one\'s archive was deleted by hand (both times said); a dossier none of whose archives is there fails naming those it tried; --dry-run says the same before', async () => {
  const { stack } = ctx;
  const pool = stack.pools.get('main');
  await generateDemoDossiers(pool, { target: 'main', count: 2, sizeKb: 2, prefix: 'GONE' });
  const codes = ['GONE0001', 'GONE0002'];
  const atOlder = await contentsOf(pool, codes);
  const older = await backUp(stack, codes, '2026-12-01T10:00:00Z');
  for (const code of codes) await writeTo(pool, code, 'after the older backup');
  const newer = await backUp(stack, codes, '2026-12-01T12:00:00Z');
  for (const code of codes) await writeTo(pool, code, 'after both backups');
  // deleted by hand: GONE0001's newest archive (its file and B{code}.SVG), both of GONE0002's
  const files = await pool.query<{ id: string; file: string; links: string[] }>(`SELECT id::text, file, links FROM nightshift.backup_generation WHERE id = ANY ($1::bigint[])`, [
    [newer.GONE0001, older.GONE0002, newer.GONE0002],
  ]);
  expect(files.rowCount).toBe(3);
  for (const f of files.rows) for (const p of [f.file, ...f.links]) fs.rmSync(p, { force: true });

  const dry = JSON.parse((await cli(['backup', 'restore', '--codes', 'GONE0001,GONE0002', '--at', '2026-12-02', '--replace', '--dry-run', '--json'])).stdout);
  expect(dry).toMatchObject({ archivesChecked: true, restore: { count: 1, codes: ['GONE0001'] }, failing: { count: 1 }, olderGeneration: { count: 1 } });
  expect(dry.olderGeneration.dossiers[0].why).toMatch(new RegExp(`^generation ${older.GONE0001} of 2026-12-01 10:00:00: the newer ${newer.GONE0001}'s archive is not on this host \\(.*\\), with no off-site copy$`));
  expect(dry.failing.dossiers[0].code).toBe('GONE0002');
  expect(dry.failing.dossiers[0].why).toMatch(
    new RegExp(`^no generation at or before 2026-12-02 23:59:59 \\(UTC\\) can be read: generation ${newer.GONE0002}'s archive is not on this host .*; generation ${older.GONE0002}'s archive is not on this host`),
  );

  const worker = await createTestWorker(stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // one restore asked for one point in time: no other restored in its place, the next older one that can be read named
    const one = await cli(['backup', 'restore', 'GONE0001', '--at', '2026-12-02', '--as', 'GONEX001', '--wait']);
    expect(one.code).toBe(1);
    expect(one.stderr).toContain(
      `the archive of generation ${newer.GONE0001} of dossier GONE0001 is not on this worker (${files.rows.find((f) => f.id === String(newer.GONE0001))!.file}), and it has no off-site copy (off-site none); ` +
        `the next older generation that can be read is ${older.GONE0001}, taken 2026-12-01 10:00:00 (UTC): nightshift backup restore GONE0001 --at '2026-12-01 10:00:00'`,
    );
    const none = await cli(['backup', 'restore', 'GONE0002', '--at', '2026-12-02', '--as', 'GONEX002', '--wait']);
    expect(none.stderr).toContain('and it has no off-site copy (off-site none); no older generation of GONE0002 can be read');
    expect((await pool.query(`SELECT code FROM nightshift.dossier WHERE code LIKE 'GONEX%'`)).rowCount).toBe(0);
    const r = await cli(['backup', 'restore', '--codes', 'GONE0001,GONE0002', '--at', '2026-12-02', '--replace', '--yes', '--wait']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('1 / 2 dossier(s) restored, 0 kept (already there), 1 failed\n');
    expect(r.stdout).toContain(
      `note: 1 dossier(s) restored from an older generation than the newest at or before the date (that one found corrupt, or its file and copy unreadable): GONE0001 from generation ${older.GONE0001} of 2026-12-01 10:00:00, not ${newer.GONE0001} of 2026-12-01 12:00:00 (UTC)`,
    );
    expect(r.stdout).toMatch(
      new RegExp(
        `  GONE0002: generation ${newer.GONE0002} not restored: the archive of generation ${newer.GONE0002} of dossier GONE0002 is not on this worker \\(.*\\), and it has no off-site copy \\(off-site none\\); ` +
          `nor could the older ones at or before 2026-12-02 23:59:59 \\(UTC\\) be read: generation ${older.GONE0002} of 2026-12-01 10:00:00: the archive of generation ${older.GONE0002} of dossier GONE0002 is not on this worker`,
      ),
    );
  });
  // restored once, from the older generation, recorded in the ledger; its content is what that generation holds
  const ledger = await pool.query<{ code: string; status: string; generation_id: string | null }>(`SELECT code, status, generation_id::text FROM nightshift.restore_run_item ORDER BY code`);
  expect(ledger.rows).toEqual([
    { code: 'GONE0001', status: 'ok', generation_id: String(older.GONE0001) },
    { code: 'GONE0002', status: 'failed', generation_id: null },
  ]);
  expect(await contentsOf(pool, ['GONE0001'])).toEqual({ GONE0001: atOlder.GONE0001 });
  // nothing changed in the dossier whose archives are all gone
  expect(await contentsOf(pool, ['GONE0002'])).not.toEqual({ GONE0002: atOlder.GONE0002 });
});

test('R-BK-11 R-BK-2: the restore --dry-run\'s registered dossiers no backup holds count a generation of any kind at or before DATE, as the run\'s end note does', async () => {
  const pool = ctx.stack.pools.get('main');
  await generateDemoDossiers(pool, { target: 'main', count: 2, sizeKb: 2, prefix: 'KIND' });
  const ids = await backUp(ctx.stack, ['KIND0001'], '2026-12-01T10:00:00Z');
  await pool.query(`UPDATE nightshift.backup_generation SET kind = 'Cloture' WHERE id = $1`, [ids.KIND0001]);
  for (const code of ['KIND0001', 'KIND0002']) await pool.query(`DROP SCHEMA "d_${code}" CASCADE`);
  const dry = JSON.parse((await cli(['backup', 'restore', '--all', '--at', '2026-12-02', '--kind', 'normal', '--dry-run', '--json'])).stdout);
  // KIND0001 is backed up (a Cloture generation): not one to create again or delete; KIND0002 never was
  expect(dry.notInCatalog.codes).toContain('KIND0002');
  expect(dry.notInCatalog.codes).not.toContain('KIND0001');
});

test('R-BK-1 R-BK-2: backup run --dry-run --json says a never-backed-up dossier is modified, as `dossiers list` does', async () => {
  const pool = ctx.stack.pools.get('main');
  await generateDemoDossiers(pool, { target: 'main', count: 1, sizeKb: 2, prefix: 'NEVR' });
  const dry = await cli(['backup', 'run', '--dry-run', '--only', 'NEVR0001', '--json']);
  expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(dry.stdout).dossiers).toEqual([expect.objectContaining({ code: 'NEVR0001', neverBackedUp: true, modified: true, why: 'never backed up' })]);
  const listed = JSON.parse((await cli(['dossiers', 'list', '--json'])).stdout) as { code: string; modifiedSinceBackup: boolean }[] | { dossiers: { code: string; modifiedSinceBackup: boolean }[] };
  const rows = Array.isArray(listed) ? listed : listed.dossiers;
  expect(rows.find((d) => d.code === 'NEVR0001')).toMatchObject({ modifiedSinceBackup: true });
});
