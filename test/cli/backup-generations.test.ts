import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { createRegistryActivities } from '../../activities/registry';
import { generateDemoDossiers } from '../../registry/demo';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { WorkflowNotFoundError } from '@temporalio/client';
import { restoreDossierWorkflowId } from '../../workflows/backup-dossier.api';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { datedBackups } from '../workflows/backup-batch-helpers';

/** `nightshift backup list | restore --at | prune [--dry-run] | settings set retention` as processes on real servers (R-BK-11, R-BK-9). */

const ctx = useCliStack(90_000);
const cli = ctx.cli;
const pool = () => ctx.stack.pools.get('main');
const PARIS = { TZ: 'Europe/Paris', NIGHTSHIFT_TIMEZONE: 'Europe/Paris' };

const verifyStateOf = async (id: number) => (await pool().query<{ verify_state: string }>('SELECT verify_state FROM nightshift.backup_generation WHERE id = $1', [id])).rows[0]?.verify_state;

/** Backups of `code`, the i-th (newest first) dated `times[i]` (UTC ISO) by fixture SQL. */
const generations = (code: string, times: string[]) => datedBackups(ctx.stack, code, times);

test('R-BK-9 / R-BK-11: settings set retention per kind, shown with its origin; a bad value is refused and changes nothing; the local value wins', async () => {
  expect((await cli(['backup', 'settings', 'set', 'retention', 'last=3,monthly=12', '--kind', 'Cloture'])).code).toBe(0);
  const shown = JSON.parse((await cli(['backup', 'settings', 'show', '--json'])).stdout);
  expect(shown.retention.details).toEqual([
    { kind: 'normal', policy: { last: 2, daily: 7, weekly: 4, monthly: 3 }, source: 'default' },
    { kind: 'EchangePrest', policy: { last: 2, daily: 7, weekly: 4, monthly: 3 }, source: 'default' },
    { kind: 'Cloture', policy: { last: 3, daily: 0, weekly: 0, monthly: 12 }, source: 'common' },
  ]);
  const text = (await cli(['backup', 'settings', 'show'])).stdout;
  expect(text).toMatch(/retention Cloture\s+last=3,daily=0,weekly=0,monthly=12\s+\(common\)/);
  expect(text).toMatch(/retention normal\s+last=2,daily=7,weekly=4,monthly=3\s+\(default\)/);

  for (const [args, message] of [
    [['retention', 'last=0'], /keeps nothing/],
    [['retention', 'yearly=3'], /unknown rule "yearly"/],
    [['retentoin', 'last=2'], /unknown setting "retentoin": expected one of folder, .*, retention$/m],
    [['retention', 'last=2', '--kind', 'Archive'], /unknown folder kind "Archive"/],
    [['retention', 'last=2', '--kind', 'cloture'], /unknown folder kind "cloture": expected normal, EchangePrest, Cloture \(kinds are case-sensitive: Cloture\?\)/],
    [['modified-only', 'yes', '--kind', 'Cloture'], /--kind is for the retention setting only/],
    [['retention', 'last=2', '--kind', 'Cloture', '--kind', 'normal'], /--kind given twice \(Cloture, normal\): give it once/],
  ] as const) {
    const r = await cli(['backup', 'settings', 'set', ...args]);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(message);
  }
  const { rows } = await pool().query(`SELECT value FROM nightshift.backup_setting WHERE key = 'retention'`);
  expect(rows[0].value).toEqual({ Cloture: { last: 3, daily: 0, weekly: 0, monthly: 12 } });

  // this machine's NIGHTSHIFT_BACKUP_RETENTION wins over the common value (R-BK-9)
  const local = JSON.parse((await cli(['backup', 'settings', 'show', '--json'], { NIGHTSHIFT_BACKUP_RETENTION: 'Cloture:last=9' })).stdout);
  expect(local.retention.details[2]).toEqual({ kind: 'Cloture', policy: { last: 9, daily: 0, weekly: 0, monthly: 0 }, source: 'local' });
  const localText = (await cli(['backup', 'settings', 'show'], { NIGHTSHIFT_BACKUP_RETENTION: 'Cloture:last=9' })).stdout;
  expect(localText).toContain("(local): this machine's environment, where this command runs; each worker uses its own");
  expect(text).not.toContain("(local): this machine's environment");
  const badLocal = await cli(['backup', 'settings', 'show'], { NIGHTSHIFT_BACKUP_RETENTION: 'last=zero' });
  expect(badLocal.code).toBe(2);
  expect(badLocal.stderr).toMatch(/NIGHTSHIFT_BACKUP_RETENTION/);

  // every kind at once replaces Cloture's own value: said, with the command that sets it back; one value for every
  // kind replaced by another is no news
  const every = await cli(['backup', 'settings', 'set', 'retention', 'last=2,daily=1']);
  expect(every.code).toBe(0);
  expect(every.stdout).toBe(
    'retention (every kind): common value set to last=2,daily=1,weekly=0,monthly=0 on target main\n' +
      "  replaced Cloture's own value last=3,daily=0,weekly=0,monthly=12: set it again with 'nightshift backup settings set retention last=3,daily=0,weekly=0,monthly=12 --kind Cloture'\n" +
      "the prune after the next batch applies it: 'nightshift backup prune --dry-run' lists what it would delete now\n",
  );
  const again = await cli(['backup', 'settings', 'set', 'retention', 'last=4']);
  expect(again.stdout).toBe('retention (every kind): common value set to last=4,daily=0,weekly=0,monthly=0 on target main\n' + "the prune after the next batch applies it: 'nightshift backup prune --dry-run' lists what it would delete now\n");
  // normal and EchangePrest hold last=4 from that set for every kind: only Cloture, set apart, had its own value
  expect((await cli(['backup', 'settings', 'set', 'retention', 'last=5', '--kind', 'Cloture'])).code).toBe(0);
  expect((await cli(['backup', 'settings', 'set', 'retention', 'last=1'])).stdout).toBe(
    'retention (every kind): common value set to last=1,daily=0,weekly=0,monthly=0 on target main\n' +
      "  replaced Cloture's own value last=5,daily=0,weekly=0,monthly=0: set it again with 'nightshift backup settings set retention last=5,daily=0,weekly=0,monthly=0 --kind Cloture'\n" +
      "the prune after the next batch applies it: 'nightshift backup prune --dry-run' lists what it would delete now\n",
  );
  expect((await cli(['backup', 'settings', 'set', 'retention', 'default'])).code).toBe(0);
  expect((await pool().query(`SELECT 1 FROM nightshift.backup_setting WHERE key = 'retention'`)).rowCount).toBe(0);
  // removing a value not set changes nothing and says so, nothing about a prune to come (drill X, session 40: "removed",
  // every time); the same for any other setting
  for (const kind of [[], ['--kind', 'Cloture']]) {
    expect(await cli(['backup', 'settings', 'set', 'retention', 'default', ...kind])).toMatchObject({
      code: 0,
      stdout: `retention (${kind[1] ?? 'every kind'}): common value not set on target main: nothing changed\n`,
    });
  }
  expect((await cli(['backup', 'settings', 'set', 'date-subfolder', 'yes'])).stdout).toBe('date-subfolder: common value set to yes on target main\n');
  expect((await cli(['backup', 'settings', 'set', 'date-subfolder', 'default'])).stdout).toBe('date-subfolder: common value removed on target main\n');
  expect((await cli(['backup', 'settings', 'set', 'date-subfolder', 'default'])).stdout).toBe('date-subfolder: common value not set on target main: nothing changed\n');
});

test('R-BK-9: concurrent settings set retention of different kinds both land (neither overwrites the other)', async () => {
  const sets = [
    ['last=7', 'Cloture'],
    ['monthly=9', 'EchangePrest'],
    ['daily=5', 'normal'],
  ] as const;
  for (let round = 0; round < 4; round++) {
    const results = await Promise.all(sets.map(([value, kind]) => cli(['backup', 'settings', 'set', 'retention', value, '--kind', kind])));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    const { rows } = await pool().query(`SELECT value FROM nightshift.backup_setting WHERE key = 'retention'`);
    expect({ round, kinds: Object.keys(rows[0]?.value ?? {}).sort() }).toEqual({ round, kinds: ['Cloture', 'EchangePrest', 'normal'] });
    await pool().query(`DELETE FROM nightshift.backup_setting WHERE key = 'retention'`);
  }
});

test('R-BK-11: backup list shows the generations in the operator zone with why each is kept; prune --dry-run lists and changes nothing; prune --wait deletes', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GLS' })) as [string];
  const ids = await generations(code, ['2026-12-02T21:00:00Z', '2026-12-01T23:30:00Z', '2026-11-20T21:00:00Z']);
  expect((await cli(['backup', 'settings', 'set', 'retention', 'last=1,daily=1'])).code).toBe(0);
  // the oldest one's file is gone, and a verification has said so: nothing is left of it
  const oldest = (await dossierGenerations(pool(), code)).find((g) => g.id === ids[2])!;
  fs.rmSync(oldest.file);
  await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'missing' WHERE id = $1`, [ids[2]]);

  const list = await cli(['backup', 'list', code], PARIS);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/times in Europe\/Paris/);
  // 23:30 UTC on 1 December is 00:30 on the 2nd in Paris: the same day as the newest, so not kept by daily=1
  expect(list.stdout).toMatch(new RegExp(`${ids[0]}  2026-12-02 22:00:00  normal .* kept: last 1, daily 2026-12-02`));
  expect(list.stdout).toMatch(new RegExp(`${ids[1]}  2026-12-02 00:30:00  normal .* (plain|key \\S+) .* next prune deletes it: beyond normal's last=1,daily=1,weekly=0,monthly=0; kept instead if no kept normal generation reads back at the prune\n`));
  expect(list.stdout).toMatch(new RegExp(`${ids[2]}  2026-11-20 22:00:00  normal .* next prune deletes it: nothing is left of it \\(its file missing, no off-site copy\\): it takes no slot\n`));
  const listed = JSON.parse((await cli(['backup', 'list', code, '--json'], PARIS)).stdout);
  expect(listed.generations.map((g: { id: number; kept: boolean }) => [g.id, g.kept])).toEqual([
    [ids[0], true],
    [ids[1], false],
    [ids[2], false],
  ]);

  const dry = await cli(['backup', 'prune', '--dry-run'], PARIS);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toMatch(/dry run: nothing is changed/);
  expect(dry.stdout).toMatch(new RegExp(`would delete ${code} generation ${ids[1]} of 2026-12-02 00:30:00`));
  expect(dry.stdout).toMatch(new RegExp(`would delete ${code} generation ${ids[2]} of 2026-11-20 22:00:00 \\(normal, [^)]+\\): nothing is left of it`));
  // of one dossier, however many the prune examined
  expect(dry.stdout).toMatch(/would delete 2 generation\(s\) \([^)]+\) of 1 dossier\(s\) \(\d+ examined\); would keep \d+\./);
  // as `backup run --dry-run --wait` is (drill X, session 40: the prune took it in silence)
  expect(await cli(['backup', 'prune', '--dry-run', '--wait'], PARIS)).toMatchObject({ code: 2, stderr: 'nightshift: --dry-run starts nothing: --wait has nothing to follow\n' });
  const dryJson = JSON.parse((await cli(['backup', 'prune', '--dry-run', '--json'], PARIS)).stdout);
  expect(dryJson).toMatchObject({ dryRun: true, deleted: 2, dossiersAffected: 1 });
  expect(dryJson.localRetention).toBeUndefined();
  // R-BK-9: a retention value only this host has is said: the real prune runs on a worker, with its own (drill Y)
  const local = await cli(['backup', 'prune', '--dry-run'], { ...PARIS, NIGHTSHIFT_BACKUP_RETENTION: 'last=1' });
  expect(local.stdout).toMatch(/\nwarning: normal, EchangePrest, Cloture from this host's NIGHTSHIFT_BACKUP_RETENTION: the real prune runs on a worker and uses that worker's own value/);
  expect(JSON.parse((await cli(['backup', 'prune', '--dry-run', '--json'], { ...PARIS, NIGHTSHIFT_BACKUP_RETENTION: 'Cloture:last=3' })).stdout).localRetention).toEqual(['Cloture']);
  expect((await dossierGenerations(pool(), code)).map((g) => g.id)).toEqual(ids);

  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const r = await cli(['backup', 'prune', '--wait', '--json'], PARIS);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.workflowId).toMatch(/^backup-prune\/main\/\d{8}T\d{6}Z$/);
    expect(out.result).toMatchObject({ state: 'completed', dryRun: false, deleted: 2, failed: 0, recordedDeleted: 2, offsiteLeft: 0 });
    // its Details pane says where its outcome is kept when no worker answers (drill W, session 40: it had none)
    expect(await (await ctx.temporal.client.workflow.getHandle(out.workflowId).describe()).staticDetails()).toContain('`nightshift backup info --target main`');
  });
  const left = await dossierGenerations(pool(), code, { deleted: true });
  expect(left.filter((g) => g.deletedAt === null).map((g) => g.id)).toEqual([ids[0]]);
  for (const g of left) expect(fs.existsSync(g.file)).toBe(g.deletedAt === null);
  const all = await cli(['backup', 'list', code, '--all'], PARIS);
  expect(all.stdout).toMatch(new RegExp(`${ids[2]}  2026-11-20 22:00:00 .* pruned 20`));
  expect((await cli(['backup', 'settings', 'set', 'retention', 'default'])).code).toBe(0);
});

test('R-BK-11: a generation recorded missing whose file was put back: backup list and prune --dry-run keep it ("its file is there again"), as the prune does (drill finding); a file still gone frees nothing', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GBK' })) as [string];
  const ids = await generations(code, ['2026-12-02T21:00:00Z', '2026-11-20T21:00:00Z']);
  const older = (await dossierGenerations(pool(), code)).find((g) => g.id === ids[1])!;
  const saved = `${older.file}.saved`;
  fs.renameSync(older.file, saved);
  await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'missing' WHERE id = $1`, [ids[1]]);
  try {
    // gone: deleted by the next prune, and freeing nothing
    const gone = await cli(['backup', 'prune', '--dry-run'], PARIS);
    expect(gone.stdout).toMatch(new RegExp(`would delete ${code} generation ${ids[1]} of 2026-11-20 22:00:00 \\(normal, its file already gone\\): nothing is left of it`));
    expect(JSON.parse((await cli(['backup', 'prune', '--dry-run', '--json'], PARIS)).stdout).bytesFreed).toBe(0);
    // put back from another copy: kept until a verification says what it is
    fs.renameSync(saved, older.file);
    const list = await cli(['backup', 'list', code], PARIS);
    expect(list.stdout).toMatch(new RegExp(`${ids[1]}  2026-11-20 22:00:00 .* kept: its file is there again: verify it\n`));
    const dry = await cli(['backup', 'prune', '--dry-run'], PARIS);
    expect(dry.stdout).not.toContain(`generation ${ids[1]} `);
  } finally {
    if (fs.existsSync(saved)) fs.renameSync(saved, older.file);
  }
});

test('R-BK-11: backup list of a code that is no dossier and never had a generation says so (exit 2); a deleted dossier still lists its generations', async () => {
  for (const args of [['backup', 'list', 'NOPE'], ['backup', 'list', 'NOPE', '--json'], ['backup', 'list', 'NOPE', '--all']]) {
    const r = await cli(args);
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'nightshift: unknown dossier NOPE in target main\n' });
  }
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GUN' })) as [string];
  // a code typed in the wrong case: the dossier it probably meant is named
  const lower = await cli(['backup', 'list', code.toLowerCase()]);
  expect(lower).toMatchObject({ code: 2, stderr: `nightshift: unknown dossier ${code.toLowerCase()} in target main (codes are case-sensitive: ${code}?)\n` });
  // registered, never backed up: no generation, but a dossier: said, not bad usage (exit 0)
  expect(await cli(['backup', 'list', code])).toMatchObject({ code: 0, stdout: `dossier ${code} has no kept generation in target main: back it up with 'nightshift backup dossier ${code}'\n` });
  const [id] = await generations(code, ['2026-12-02T21:00:00Z']);
  await createRegistryActivities({ config: ctx.stack.config, pools: ctx.stack.pools }).deleteDossier('main', code);
  const gone = await cli(['backup', 'list', code]);
  expect(gone.code).toBe(0);
  expect(gone.stdout).toMatch(new RegExp(`^\\s+${id}  `, 'm'));
});

test('R-BK-11: restore CODE --at DATE restores the generation at or just before it (under a lease); none before: refused clearly', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GRS' })) as [string];
  const registry = createRegistryActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  const ids = await generations(code, ['2026-12-02T21:00:00Z', '2026-12-01T21:00:00Z']);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const r = await cli(['backup', 'restore', code, '--at', '2026-12-01', '--as', `${code}X`, '--wait', '--json'], PARIS);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const out = JSON.parse(r.stdout);
    expect(out.generation).toMatchObject({ id: ids[1], code });
    expect(out.result.code).toBe(`${code}X`);
    expect(await registry.tableStats('main', `${code}X`)).toEqual(await registry.tableStats('main', code));
    // the lease was released once the restore ended
    expect((await pool().query('SELECT count(*)::int AS n FROM nightshift.backup_generation_lease WHERE generation_id = $1', [ids[1]])).rows[0].n).toBe(0);

    const text = await cli(['backup', 'restore', code, '--at', '2026-12-02T23:00', '--as', `${code}Y`], PARIS);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`generation ${ids[0]} of dossier ${code}, taken 2026-12-02 22:00:00 \\(Europe/Paris\\)`));

    const none = await cli(['backup', 'restore', code, '--at', '2026-11-30'], PARIS);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(new RegExp(`no kept generation of dossier ${code} at or before 2026-11-30 23:59:59 \\(Europe/Paris\\): the oldest kept is of 2026-12-01 22:00:00`));
    // a code that is no dossier and never had a generation: said as such, the wrong case named (drill finding)
    expect(await cli(['backup', 'restore', 'NOPE55', '--at', '2026-12-01'], PARIS)).toMatchObject({ code: 2, stderr: 'nightshift: unknown dossier NOPE55 in target main\n' });
    expect((await cli(['backup', 'restore', code.toLowerCase(), '--at', '2026-12-01'], PARIS)).stderr).toContain(`(codes are case-sensitive: ${code}?)`);
    const bad = await cli(['backup', 'restore', code, '--at', 'last tuesday'], PARIS);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--at: .*ISO date such as 2026-12-01/);
    // a year typed wrong: said before the restore starts
    const future = await cli(['backup', 'restore', code, '--at', '2099-01-01', '--as', `${code}Z`], PARIS);
    expect(future.code).toBe(0);
    expect(future.stdout).toMatch(new RegExp(`^2099-01-01 is in the future: the newest generation before it is the newest of all\ngeneration ${ids[0]} of dossier ${code}`));
    const verifyOnly = await cli(['backup', 'restore', code, '--at', '2026-12-01', '--verify-only'], PARIS);
    expect(verifyOnly.code).toBe(2);
    expect(verifyOnly.stderr).toContain(`'nightshift backup verify --codes ${code}'`);
  });
});

test('R-BK-11: restore --as a code that differs from an existing dossier only by case is refused before any start, with or without --replace, --at or FILE (drill finding: --as demo0006 --replace wiped DEMO0006); --from in any case', async () => {
  const [source, other] = (await generateDemoDossiers(pool(), { target: 'main', count: 2, sizeKb: 5, prefix: 'GCT' })) as [string, string];
  const [id] = await generations(source, ['2026-12-03T21:00:00Z']);
  const file = (await pool().query<{ file: string }>('SELECT file FROM nightshift.backup_generation WHERE id = $1', [id])).rows[0]!.file;
  const registry = createRegistryActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  const before = await registry.tableStats('main', other);
  const twin = other.toLowerCase();
  const refusal = `nightshift: --as: dossier ${other} exists, and ${twin} differs from it only by case (two dossiers never do): nothing started; restore under ${other} (--replace overwrites it) or under another code\n`;
  for (const args of [
    ['backup', 'restore', source, '--at', '2026-12-04', '--as', twin, '--replace', '--wait'],
    ['backup', 'restore', source, '--at', '2026-12-04', '--as', twin],
    ['backup', 'restore', file, '--as', twin, '--replace', '--wait'],
    ['backup', 'restore', file, '--as', twin],
  ]) {
    expect({ args, ...(await cli(args, PARIS)) }).toEqual({ args, code: 2, stdout: '', stderr: refusal });
  }
  await expect(ctx.temporal.client.workflow.getHandle(restoreDossierWorkflowId('main', twin)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  expect(await registry.tableStats('main', other)).toEqual(before);
  expect((await pool().query('SELECT code FROM nightshift.dossier WHERE code = $1', [twin])).rows).toEqual([]);
  // onto the very code without --replace: refused as before (exit 2)
  expect(await cli(['backup', 'restore', source, '--at', '2026-12-04', '--as', other], PARIS)).toMatchObject({
    code: 2,
    stderr: `nightshift: dossier ${other} already exists: restore beside it with --as NEWCODE, or over it with --replace\n`,
  });
  // --from is a word of a fixed lower-case set: OFFSITE is offsite (the generation has no copy: said so, not "--from: expected ...")
  const offsite = await cli(['backup', 'restore', source, '--at', '2026-12-04', '--as', `${source}N`, '--from', 'OFFSITE'], PARIS);
  expect(offsite.code).toBe(2);
  expect(offsite.stderr).toMatch(new RegExp(`^nightshift: no generation of dossier ${source} at or before .* has an off-site copy`));
  expect((await cli(['backup', 'restore', source, '--at', '2026-12-04', '--from', 'nowhere'], PARIS)).stderr).toBe('nightshift: --from: expected local or offsite\n');
});

test('R-BK-9 / R-BK-11: restore --at --kind takes the newest generation of that folder kind (a newer Cloture one is passed over); a deleted dossier\'s list offers its restore under its own code', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GKD' })) as [string];
  const ids = await generations(code, ['2026-12-03T21:00:00Z', '2026-12-02T21:00:00Z']);
  // the newest a closing's backup (R-BK-9 folder Cloture), the one before it the nightly one
  await pool().query(`UPDATE nightshift.backup_generation SET kind = 'Cloture' WHERE id = $1`, [ids[0]]);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const any = JSON.parse((await cli(['backup', 'restore', code, '--at', '2026-12-04', '--as', `${code}A`, '--wait', '--json'], PARIS)).stdout);
    expect(any.generation).toMatchObject({ id: ids[0], kind: 'Cloture' });
    const normal = await cli(['backup', 'restore', code, '--at', '2026-12-04', '--kind', 'normal', '--as', `${code}B`, '--wait'], PARIS);
    expect(normal).toMatchObject({ code: 0, stderr: '' });
    expect(normal.stdout).toMatch(new RegExp(`^generation ${ids[1]} of dossier ${code}, taken 2026-12-02 22:00:00 \\(Europe/Paris\\), normal,`));
  });
  const none = await cli(['backup', 'restore', code, '--at', '2026-12-04', '--kind', 'EchangePrest', '--as', `${code}C`], PARIS);
  expect(none).toMatchObject({ code: 2, stderr: `nightshift: no kept EchangePrest generation of dossier ${code} at or before 2026-12-04 23:59:59 (Europe/Paris): it has none\n` });
  expect((await cli(['backup', 'restore', code, '--at', '2026-12-04', '--kind', 'cloture'], PARIS)).stderr).toMatch(/--kind: unknown folder kind "cloture": .*\(kinds are case-sensitive: Cloture\?\)/);
  expect((await cli(['backup', 'restore', '/tmp/x.SVG', '--kind', 'normal'], PARIS)).code).toBe(2);
  // deleted: its list offers the restore under its own code, not --as / --replace (drill Y)
  expect((await cli(['dossiers', 'delete', code, '--yes'])).code).toBe(0);
  const list = await cli(['backup', 'list', code], PARIS);
  expect(list.stdout).toContain(`restore one: nightshift backup restore ${code} --at '2026-12-03 22:00:00' (dossier ${code} no longer exists: it comes back under its code, or --as NEWCODE)`);
  expect(JSON.parse((await cli(['backup', 'list', code, '--json'], PARIS)).stdout).registered).toBe(false);
});

test("R-BK-11 / R-BK-13: the restore line backup list prints restores the generation it shows (snapshot times have milliseconds); a corrupt one is passed over, and said so", async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GMS' })) as [string];
  const ids = await generations(code, ['2026-12-02T21:00:05.639412Z', '2026-12-02T21:00:05.250Z', '2026-12-01T21:00:00.900Z']);
  const hint = () => cli(['backup', 'list', code], PARIS).then((r) => /restore one: nightshift backup restore \S+ --at '([^']+)'/.exec(r.stdout)![1]!);
  expect(await hint()).toBe('2026-12-02 22:00:05');
  // a time in the same second as the oldest generation, before it: the milliseconds say why it is not "at or before"
  const early = await cli(['backup', 'restore', code, '--at', '2026-12-01T22:00:00,000', '--as', `${code}E`], PARIS);
  expect(early.stderr).toContain(`no kept generation of dossier ${code} at or before 2026-12-01 22:00:00.000 (Europe/Paris): the oldest kept is of 2026-12-01 22:00:00.900`);
  // the dossier exists: the hint says how to restore beside it or over it (without either, the restore is refused)
  expect((await cli(['backup', 'list', code], PARIS)).stdout).toContain(`--as NEWCODE (or --replace to overwrite ${code})`);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // the listed time (whole seconds) covers the generation taken 639 ms into that second, not the one before it
    const r = await cli(['backup', 'restore', code, '--at', await hint(), '--as', `${code}A`, '--wait', '--json'], PARIS);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout).generation.id).toBe(ids[0]);

    // a verification found the newest corrupt: the hint names the one before it, and --at passes over it, saying so
    await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'corrupt' WHERE id = $1`, [ids[0]]);
    expect(await hint()).toBe('2026-12-02 22:00:05');
    const passed = await cli(['backup', 'restore', code, '--at', '2026-12-02 22:00:05', '--as', `${code}B`, '--wait'], PARIS);
    expect(passed.code).toBe(0);
    expect(passed.stdout).toMatch(new RegExp(`generation ${ids[0]}, taken 2026-12-02 22:00:05, is corrupt \\(backup verify\\), with no off-site copy: an older one is restored\\ngeneration ${ids[1]} of dossier`));
    expect(passed.stdout).toMatch(new RegExp(`restored dossier ${code}B from generation ${ids[1]}`));
    // the Web UI's summary leads with the generation restored, then the one passed over (drill W, session 40)
    const summary = await (await ctx.temporal.client.workflow.getHandle(restoreDossierWorkflowId('main', `${code}B`)).describe()).staticSummary();
    expect(summary).toMatch(new RegExp(`^Restore generation ${ids[1]} of dossier ${code}, taken [^\n]+ as dossier ${code}B\ngeneration ${ids[0]}, taken 2026-12-02 22:00:05, is corrupt \\(backup verify\\), with no off-site copy: an older one is restored$`));

    // none valid at or before the time: refused, nothing started
    await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'missing' WHERE id = ANY ($1)`, [ids.slice(1)]);
    const none = await cli(['backup', 'restore', code, '--at', '2026-12-02 22:00:05', '--as', `${code}C`], PARIS);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(new RegExp(`no valid generation of dossier ${code} at or before 2026-12-02 22:00:05 \\(Europe/Paris\\): generation ${ids[0]} and those before it are corrupt or missing`));
    expect((await cli(['backup', 'list', code], PARIS)).stdout).toContain(`restore: no kept generation of ${code} can be restored (files found corrupt or missing, no off-site copy): back it up again`);
  });
});

test('R-BK-11: a file a killed backup left in a generations folder (no row, older than the newest generation): prune --dry-run says it, the prune deletes it and says so', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GUN' })) as [string];
  const [id] = await generations(code, ['2026-12-02T21:00:00Z']);
  const g = (await dossierGenerations(pool(), code)).find((x) => x.id === id)!;
  const left = path.join(path.dirname(g.file), `B${code}.20261201T210000Z.792b36.SVG`);
  fs.copyFileSync(g.file, left);
  const longAgo = new Date(Date.now() - 2 * 3600_000);
  fs.utimesSync(left, longAgo, longAgo);

  const dry = await cli(['backup', 'prune', '--dry-run'], PARIS);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`would delete ${code} unrecorded file of 2026-12-01 22:00:00 (`);
  expect(dry.stdout).toContain(`left by an interrupted backup, older than its newest generation  ${left}`);
  expect(dry.stdout).toMatch(/would delete 1 unrecorded file\(s\) left by interrupted backups \([^)]+\)\n/);
  const dryJson = JSON.parse((await cli(['backup', 'prune', '--dry-run', '--json'], PARIS)).stdout);
  expect(dryJson).toMatchObject({ unrecorded: 1, unrecordedBytes: g.size, unrecordedFiles: [{ code, file: left, size: g.size }] });
  expect(fs.existsSync(left)).toBe(true);

  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const r = await cli(['backup', 'prune', '--wait'], PARIS);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deleted 1 unrecorded file\(s\) left by interrupted backups \([^)]+\)\n/);
  });
  expect(fs.existsSync(left)).toBe(false);
  expect(fs.existsSync(g.file)).toBe(true);
});

test('R-BK-12 / R-BK-13: a verification that could not read a generation for want of its key is shown beside its last verdict in backup list (which it leaves as it was), until a verification reads it again', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GKP' })) as [string];
  const [newer, older] = await generations(code, ['2026-12-02T21:00:00Z', '2026-12-01T21:00:00Z']);
  await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'ok', verified_at = '2026-12-02T22:00:00Z', key_id = 'k1' WHERE id = ANY($1::bigint[])`, [[newer, older]]);
  // a later verification lacked key k1 (fixture rows, as the verify run writes them: verify_state untouched)
  const { rows } = await pool().query<{ id: string }>(
    `INSERT INTO nightshift.verify_run (workflow_id, scope, codes, seed, settings, state, finished_at) VALUES ($1, 'codes', ARRAY[$2], 1, '{}', 'problems', '2026-12-03T02:00:05Z') RETURNING id`,
    [`backup-verify/main/test-${code}`, code],
  );
  await pool().query(
    `INSERT INTO nightshift.verify_run_item (run_id, generation_id, code, file, snapshot_at, status, error, finished_at)
     SELECT $1, id, code, file, snapshot_at, 'key', 'encrypted with backup key k1, which this worker does not hold', '2026-12-03T02:00:00Z'
       FROM nightshift.backup_generation WHERE id = $2`,
    [rows[0]!.id, newer],
  );

  const list = await cli(['backup', 'list', code], PARIS);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(new RegExp(`${newer}  2026-12-02 22:00:00 .* ok 2026-12-02 23:00:00, key problem 2026-12-03 03:00:00 `));
  expect(list.stdout).not.toMatch(new RegExp(`${older}  .*key problem`));
  expect(list.stdout).toContain(
    `key problem: the last verification of generation(s) ${newer} could not read them without their key (k1); the archives are not known to be at fault: give the workers that key, then 'nightshift backup verify --codes ${code} --wait'`,
  );
  // the restore it proposes is not one that would fail the same way: both need k1
  expect(list.stdout).toMatch(/\nrestore: every kept generation of \S+ that can be restored needs a key the last verification lacked \(k1\): give the workers that key first$/m);
  // a plain one, older, is proposed instead, saying why it is not the newest
  await pool().query(`UPDATE nightshift.backup_generation SET key_id = NULL WHERE id = $1`, [older]);
  const plainOlder = await cli(['backup', 'list', code], PARIS);
  expect(plainOlder.stdout).toContain(`restore one: nightshift backup restore ${code} --at '2026-12-01 22:00:00' --as NEWCODE (or --replace to overwrite ${code})\n  (not the newest, 2026-12-02 22:00:00: its key k1 was lacking at the last verification)`);
  await pool().query(`UPDATE nightshift.backup_generation SET key_id = 'k1' WHERE id = $1`, [older]);
  const listed = JSON.parse((await cli(['backup', 'list', code, '--json'], PARIS)).stdout);
  expect(listed.generations.map((g: { id: number; keyProblem: unknown }) => [g.id, g.keyProblem])).toEqual([
    [newer, { at: '2026-12-03 03:00:00', error: 'encrypted with backup key k1, which this worker does not hold' }],
    [older, null],
  ]);

  // a verification that reads it again (the key given back) settles it: the key problem is history
  await pool().query(`UPDATE nightshift.backup_generation SET verified_at = '2026-12-04T02:00:00Z' WHERE id = $1`, [newer]);
  const again = await cli(['backup', 'list', code], PARIS);
  expect(again.stdout).toMatch(new RegExp(`${newer}  2026-12-02 22:00:00 .* ok 2026-12-04 03:00:00 `));
  expect(again.stdout).not.toContain('key problem');
  expect(again.stdout).toContain(`restore one: nightshift backup restore ${code} --at '2026-12-02 22:00:00' --as NEWCODE`);
  // the fixture's key ids taken away: the stack gives no key, and a generation recorded encrypted makes every later backup
  // of this file refuse to write plain (R-BK-12, asked again after a minute: CI, slower, met it)
  await pool().query('UPDATE nightshift.backup_generation SET key_id = NULL WHERE id = ANY($1::bigint[])', [[newer, older]]);
});

test("R-BK-11 (drill of 2026-12-06): a generation's file replaced by hand with another dossier's archive is refused, single restore and restore run, before anything changes: neither dossier is touched", async () => {
  const [code, other] = (await generateDemoDossiers(pool(), { target: 'main', count: 2, sizeKb: 5, prefix: 'GSW' })) as [string, string];
  const [id] = await generations(code, ['2026-12-03T21:00:00Z']);
  const [otherId] = await generations(other, ['2026-12-03T21:00:00Z']);
  const fileOf = async (g: number) => (await pool().query<{ file: string; size: string }>('SELECT file, size FROM nightshift.backup_generation WHERE id = $1', [g])).rows[0]!;
  const mine = await fileOf(id!);
  const theirs = await fileOf(otherId!);
  fs.copyFileSync(theirs.file, mine.file);
  const registry = createRegistryActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  const before = { [code]: await registry.tableStats('main', code), [other]: await registry.tableStats('main', other) };
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // its size is not the one recorded
    const single = await cli(['backup', 'restore', code, '--at', '2026-12-04', '--replace', '--wait'], PARIS);
    expect(single.code).toBe(1);
    expect(single.stderr).toContain(`ArchiveInvalid: ${mine.file} is `);
    expect(single.stderr).toContain(`generation ${id} recorded ${mine.size}: not this generation's file (replaced by hand?); nothing was changed`);
    // recorded corrupt as a verification would (R-BK-13); set back so that the next check is the one refusing
    expect(await verifyStateOf(id!)).toBe('corrupt');
    // the same size recorded: the archive's own dossier code tells
    await pool().query("UPDATE nightshift.backup_generation SET size = $2, verify_state = 'unverified' WHERE id = $1", [id, theirs.size]);
    const same = await cli(['backup', 'restore', code, '--at', '2026-12-04', '--replace', '--wait'], PARIS);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain(`is an archive of dossier ${other}, not of ${code}: not this generation's file (replaced by hand?); nothing was changed`);
    await pool().query("UPDATE nightshift.backup_generation SET verify_state = 'unverified' WHERE id = $1", [id]);
    // a restore run restores over the archive's own code: it must not put the other dossier back
    const run = await cli(['backup', 'restore', '--codes', code, '--at', '2026-12-04', '--replace', '--yes', '--wait'], PARIS);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`is an archive of dossier ${other}, not of ${code}`);
  });
  expect({ [code]: await registry.tableStats('main', code), [other]: await registry.tableStats('main', other) }).toEqual(before);
});

test("R-BK-11 (drill C, 2026-12-06 night): an older generation's archive of the same dossier copied over a newer one is refused, naming whose it is; a file whose SHA-256 is not the one recorded too; nothing changes", async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 5, prefix: 'GSO' })) as [string];
  const backup = createBackupActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  const older = (await backup.backupDossier({ target: 'main', code, reason: 'manual' })).generationId!;
  const newer = (await backup.backupDossier({ target: 'main', code, reason: 'manual' })).generationId!;
  const row = async (g: number) => (await pool().query<{ file: string; size: string }>('SELECT file, size FROM nightshift.backup_generation WHERE id = $1', [g])).rows[0]!;
  const [o, n] = [await row(older), await row(newer)];
  const saved = fs.readFileSync(n.file);
  fs.copyFileSync(o.file, n.file);
  // the same size, as the tester's two archives had
  await pool().query('UPDATE nightshift.backup_generation SET size = $2 WHERE id = $1', [newer, o.size]);
  const at = new Date(Date.now() + 60_000).toISOString();
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const copied = await cli(['backup', 'restore', code, '--at', at, '--as', `${code}X`, '--wait']);
    expect(copied.code).toBe(1);
    expect(copied.stderr).toMatch(new RegExp(`ArchiveInvalid: ${n.file.replace(/[.]/g, '\\.')} is the archive of generation ${older}, taken at \\S+; generation ${newer} was taken at \\S+: not this generation's file \\(replaced by hand\\?\\); nothing was changed`));
    // recorded corrupt as a verification would (R-BK-13); set back (with the fixtures below) so that the next check is the one refusing
    expect(await verifyStateOf(newer)).toBe('corrupt');
    // its own content back, but a SHA-256 recorded (by a verification) that it does not have
    fs.writeFileSync(n.file, saved);
    await pool().query("UPDATE nightshift.backup_generation SET size = $2, sha256 = repeat('ab', 32), verify_state = 'unverified' WHERE id = $1", [newer, saved.length]);
    const damaged = await cli(['backup', 'restore', code, '--at', at, '--as', `${code}X`, '--wait']);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain(`generation ${newer} recorded abababababab…: damaged, or not this generation's file (replaced by hand?); nothing was changed`);
    expect((await pool().query('SELECT 1 FROM nightshift.dossier WHERE code = $1', [`${code}X`])).rowCount).toBe(0);
    // the record right (its SHA-256, hashed in the restore's own read): restored
    expect(await verifyStateOf(newer)).toBe('corrupt');
    await pool().query("UPDATE nightshift.backup_generation SET sha256 = $2, verify_state = 'unverified' WHERE id = $1", [newer, crypto.createHash('sha256').update(saved).digest('hex')]);
    const ok = await cli(['backup', 'restore', code, '--at', at, '--as', `${code}X`, '--wait']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain(`from generation ${newer}`);
  });
});
