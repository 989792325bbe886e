import fs from 'node:fs';
import { generateDemoDossiers } from '../../registry/demo';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { datedBackups } from '../workflows/backup-batch-helpers';

/**
 * `nightshift backup forget CODE --id ID | --at DATE [--undo]` (R-BK-11), as restic's `forget ID` / pgBackRest's
 * `expire --set`: a known-corrupt generation kept by a retention slot is marked, and the next prune deletes it whatever
 * the slots say; never the only generation of its kind a restore can read. Processes on real servers.
 */

const ctx = useCliStack(90_000);
const cli = ctx.cli;
const pool = () => ctx.stack.pools.get('main');
const PARIS = { TZ: 'Europe/Paris', NIGHTSHIFT_TIMEZONE: 'Europe/Paris' };

/** Backups of `code`, the i-th (newest first) dated `times[i]` (UTC ISO) by fixture SQL. */
const generations = (code: string, times: string[]) => datedBackups(ctx.stack, code, times);

const forgotten = async (id: number) => (await pool().query<{ forgotten_by: string | null }>('SELECT forgotten_by FROM nightshift.backup_generation WHERE id = $1', [id])).rows[0]!.forgotten_by;

test('R-BK-11: a corrupt generation kept by its slot is forgotten, shown so by backup list, cleared by --undo, and deleted by the next prune alone', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'FGT' })) as [string];
  const ids = (await generations(code, ['2026-12-03T21:00:00Z', '2026-12-02T21:00:00Z', '2026-12-01T21:00:00Z'])) as [number, number, number];
  // a verification found the middle one corrupt: the default retention (daily 7) keeps it all the same
  await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'corrupt', verified_at = now() WHERE id = $1`, [ids[1]]);
  expect((await cli(['backup', 'list', code], PARIS)).stdout).toMatch(new RegExp(`${ids[1]}  2026-12-02 22:00:00 .* kept: last 2, daily 2026-12-02\n`));

  const r = await cli(['backup', 'forget', code, '--id', String(ids[1])], PARIS);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).toBe(
    `generation ${ids[1]} of dossier ${code}, taken 2026-12-02 22:00:00 (Europe/Paris), normal, ${r.stdout.match(/normal, ([^,]+),/)![1]}, corrupt forgotten: the next prune deletes it ` +
      `(after the next batch, or now: 'nightshift backup prune --wait'; 'nightshift backup forget ${code} --id ${ids[1]} --undo' until then)\n`,
  );
  expect(await forgotten(ids[1])).toMatch(/^backup forget by \S+@\S+$/);
  const list = await cli(['backup', 'list', code], PARIS);
  expect(list.stdout).toMatch(new RegExp(`${ids[1]}  2026-12-02 22:00:00 .* next prune deletes it: forgotten \\('nightshift backup forget'\\): it takes no slot\n`));
  // said again, not marked twice
  expect((await cli(['backup', 'forget', code, '--id', String(ids[1])], PARIS)).stdout).toMatch(/is already forgotten \(2\d{3}-.*backup forget by .*\): the next prune deletes it\n$/);
  // --undo clears it; forgotten again by --at (the generation taken at or just before it)
  const undo = await cli(['backup', 'forget', code, '--id', String(ids[1]), '--undo', '--json'], PARIS);
  expect(JSON.parse(undo.stdout)).toMatchObject({ target: 'main', code, generationId: ids[1], forgotten: false, changed: true });
  expect(await forgotten(ids[1])).toBeNull();
  const byDate = await cli(['backup', 'forget', code, '--at', '2026-12-02 23:00'], PARIS);
  expect(byDate.code).toBe(0);
  expect(byDate.stdout).toMatch(new RegExp(`^generation ${ids[1]} of dossier ${code}, taken 2026-12-02 22:00:00`));

  const dry = await cli(['backup', 'prune', '--dry-run'], PARIS);
  expect(dry.stdout).toMatch(new RegExp(`would delete ${code} generation ${ids[1]} of 2026-12-02 22:00:00 \\(normal, [^)]+\\): forgotten`));
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const p = await cli(['backup', 'prune', '--wait', '--json'], PARIS);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout).result).toMatchObject({ state: 'completed', deleted: 1, failed: 0 });
  });
  const left = await dossierGenerations(pool(), code, { deleted: true });
  expect(left.map((g) => [g.id, g.deletedAt === null])).toEqual([
    [ids[0], true],
    [ids[1], false],
    [ids[2], true],
  ]);
  for (const g of left) expect(fs.existsSync(g.file)).toBe(g.deletedAt === null);
  // pruned: nothing left to forget or undo
  const gone = await cli(['backup', 'forget', code, '--id', String(ids[1]), '--undo'], PARIS);
  expect(gone.code).toBe(2);
  expect(gone.stderr).toBe(`nightshift: no kept generation ${ids[1]} of dossier ${code} in target main: 'nightshift backup list ${code}' shows its kept generations and their ids; nothing changed\n`);
});

test('R-BK-11: the only generation of its kind a restore can read is not forgotten; bad input exits 2 and changes nothing', async () => {
  const [code, other] = (await generateDemoDossiers(pool(), { target: 'main', count: 2, sizeKb: 5, prefix: 'FGO' })) as [string, string];
  const [only] = await generations(code, ['2026-12-03T21:00:00Z']);
  const [others] = await generations(other, ['2026-12-03T21:00:00Z']);
  const refused = await cli(['backup', 'forget', code, '--id', String(only)], PARIS);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(new RegExp(`^nightshift: generation ${only} of dossier ${code}, .* is the last normal generation of ${code} a restore can read here \\(none other of its kind is sound, under a key this host gives, and not forgotten\\): it is not forgotten \\(take a new backup of its kind first: 'nightshift backup dossier ${code}'\\); nothing changed\n$`));
  // a Cloture one: the backup advised writes that kind (drill R, session 39: `backup dossier CODE` writes a normal one)
  await pool().query(`UPDATE nightshift.backup_generation SET kind = 'Cloture' WHERE id = $1`, [others]);
  const cloture = await cli(['backup', 'forget', other, '--id', String(others)], PARIS);
  expect(cloture.code).toBe(2);
  expect(cloture.stderr).toContain(`is the last Cloture generation of ${other} a restore can read here`);
  expect(cloture.stderr).toContain(`(take a new backup of its kind first: 'nightshift backup dossier ${other} --reason cloture'); nothing changed`);
  // a newer one found corrupt does not make the sound older one forgettable
  const [newer] = await generations(code, ['2026-12-04T21:00:00Z']);
  await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'corrupt' WHERE id = $1`, [newer]);
  expect((await cli(['backup', 'forget', code, '--id', String(only)], PARIS)).code).toBe(2);
  // two sound ones forgotten in turn: the second is refused (the first counts as gone) (drill F2, session 37)
  const [third] = await generations(code, ['2026-12-05T21:00:00Z']);
  expect((await cli(['backup', 'forget', code, '--id', String(third)], PARIS)).code).toBe(0);
  expect((await cli(['backup', 'forget', code, '--id', String(only)], PARIS)).code).toBe(2);
  expect((await cli(['backup', 'forget', code, '--id', String(third), '--undo'], PARIS)).code).toBe(0);
  // the only sound one under a key this host gives (the other's key not given here): refused
  await pool().query(`UPDATE nightshift.backup_generation SET key_id = 'k-gone' WHERE id = $1`, [third]);
  expect((await cli(['backup', 'forget', code, '--id', String(only)], PARIS)).code).toBe(2);
  await pool().query(`UPDATE nightshift.backup_generation SET key_id = NULL WHERE id = $1`, [third]);

  for (const [args, message] of [
    [[code], /give the generation with --id ID or --at DATE \(one of them\)/],
    [[code, '--id', String(only), '--at', '2026-12-03'], /one of them/],
    [[code, '--id', 'abc'], /^nightshift: --id: expected a generation's id, a whole number \(the first column of 'nightshift backup list CODE'\), not 'abc'\n$/],
    // drill X, session 40: read as hexadecimal or an exponent, these forgot generation 12 and 10
    [[code, '--id', '0x0c'], /--id: expected a generation's id, a whole number .*, not '0x0c'\n$/],
    [[code, '--id', '1e1'], /, not '1e1'\n$/],
    [[code, '--id', '3.5'], /, not '3.5'\n$/],
    [[code, '--id', ''], /, not ''\n$/],
    [[code, '--id', '0'], /, not '0'\n$/],
    [[code, '--id', String(only), '--kind', 'Cloture'], /--kind goes with --at/],
    [[code, '--at', 'yesterday'], /^nightshift: --at: /],
    // drill X, session 40: a future date named the newest generation, which was forgotten
    [[code, '--at', '2099-01-01'], new RegExp(`^nightshift: --at: 2099-01-01 is in the future: give the date of the generation to forget, or its --id \\('nightshift backup list ${code}'\\); nothing changed\n$`)],
    [[code, '--at', '2026-12-01'], new RegExp(`no kept generation at or before 2026-12-01 23:59:59\\.999 \\(Europe/Paris\\) of dossier ${code}|no kept generation at or before 2026-12-01`)],
    [[code, '--id', String(others)], new RegExp(`no kept generation ${others} of dossier ${code}`)],
    [['NOPE99', '--id', '1'], /unknown dossier NOPE99 in target main/],
    [['bad code!', '--id', '1'], /^nightshift: CODE: /],
  ] as const) {
    const r = await cli(['backup', 'forget', ...args], PARIS);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(message);
  }
  const { rows } = await pool().query('SELECT count(*)::int AS n FROM nightshift.backup_generation WHERE forgotten_at IS NOT NULL AND deleted_at IS NULL');
  expect(rows[0].n).toBe(0);
});
