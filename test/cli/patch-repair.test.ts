import fs from 'node:fs';
import path from 'node:path';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { sealPatchPackage } from '../../patches/package';
import { openRepair } from '../../store/patch/repair-open';
import { repairPage } from '../../store/patch/repair-page';
import { createTestWorker, tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { blockablePatches, demoDossiers, levels, openWindow, runPatch } from '../workflows/patch-helpers';

/** `nightshift patch repair DIR` (Flyway's `repair`, R-PI-8) spawned as processes against the real servers. */

const ctx = useCliStack(120_000);
const cli = ctx.cli;

jest.setTimeout(180_000);

let codes: string[];

beforeAll(async () => {
  codes = await demoDossiers(ctx.stack, 6);
  await openWindow(ctx.stack.pools.get('main'));
});

/** Each dossier's ledger checksum of patch 2, and how many times each patch was applied in it (applylog). */
async function ledgers(): Promise<{ checksums: string[]; applied: number[] }> {
  const pool = ctx.stack.pools.get('main');
  const checksums: string[] = [];
  const applied: number[] = [];
  for (const code of codes) {
    checksums.push((await pool.query<{ checksum: string }>(`SELECT checksum FROM ${qualified(schemaNameFor(code), 'apatch')} WHERE number = 2`)).rows[0]!.checksum);
    applied.push((await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${qualified(schemaNameFor(code), 'applylog')}`)).rows[0]!.n);
  }
  return { checksums, applied };
}

test("Flyway's repair R-PI-8: a package resealed after it was applied (a comment) is refused with the repair named; --dry-run says it, the repair realigns every ledger and the stored package (going on from a cut-off one), applies nothing again; the next patch then integrates", async () => {
  const pool = ctx.stack.pools.get('main');
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  const first = tempDir('repair-first');
  await blockablePatches(first, [1, 2]);
  await worker.runUntil(async () => expect((await runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir: first })).state).toBe('completed'));
  const before = await ledgers();
  expect(new Set(before.checksums).size).toBe(1);
  const oldChecksum = before.checksums[0]!;

  // the same patches, patch 2 with a comment added and resealed: refused by integrate, the repair named
  const fixed = tempDir('repair-fixed');
  await blockablePatches(fixed, [1, 2], (n) => (n === 2 ? '-- a comment fixed after the fact\n' : ''));
  const refused = await cli(['patch', 'integrate', fixed]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`ChecksumDrift: patch 2 was already integrated on this target`);
  expect(refused.stderr).toContain(`'nightshift patch repair ${fixed}' realigns their ledgers (Flyway's repair)`);
  // the plan's dossier lines: the package changed, not their ledgers (drill, session 38: --accept-ledger was advised)
  const planned = await cli(['patch', 'plan', fixed]);
  expect(`${planned.stdout}${planned.stderr}`).toContain("the package changed since it was integrated: if what changed need not reach the dossiers that applied it, 'nightshift patch repair' with this folder realigns their ledgers");
  expect(`${planned.stdout}${planned.stderr}`).not.toContain('--accept-ledger');

  // hostile input: nothing changed
  expect(await cli(['patch', 'repair', ''])).toMatchObject({ code: 2 });
  expect((await cli(['patch', 'repair', path.join(fixed, 'nope')])).stderr).toMatch(/^nightshift: no patch directory .*nope \(its folder .* is here, without it\): nothing changed\n$/);
  const stray = tempDir('repair-stray');
  await blockablePatches(stray, [1, 2]);
  fs.writeFileSync(path.join(stray, 'notes.txt'), 'not a patch');
  expect(await cli(['patch', 'repair', stray, '--yes'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/^nightshift: PatchStrayFiles: /) });

  const dry = await cli(['patch', 'repair', fixed, '--dry-run']);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`patch 2 (B0002): stored with checksum ${oldChecksum.slice(0, 12)}… (from ${first}), this folder has `);
  expect(dry.stdout).toContain('6 dossier(s) hold it: their ledgers take the new checksum, nothing is applied again; what changed: comments or spacing of data.sql (nothing a dossier runs)');
  expect(dry.stdout).not.toContain('patch 1 ');
  // a change to what the package does (its routing, its statements) is told apart from a comment: said, with the way
  const routed = tempDir('repair-routed');
  await blockablePatches(routed, [1, 2], (n) => (n === 2 ? 'INSERT INTO applylog (n) VALUES (-2);\n' : ''));
  const manifestFile = path.join(routed, 'B0002', 'patch.json');
  fs.writeFileSync(manifestFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(manifestFile, 'utf8')), type: 'supervisor' }));
  await sealPatchPackage(path.join(routed, 'B0002'));
  const effect = await cli(['patch', 'repair', routed, '--dry-run']);
  expect(effect.stdout).toContain(
    "what changed: type standard → supervisor (routing, R-PI-3…R-PI-6), the statements of data.sql; it changes what the package does: the dossiers that hold it keep what the old one did (a repair applies nothing again); for the change to reach them, put the old package back and give the change a new patch number",
  );
  expect(JSON.parse((await cli(['patch', 'repair', routed, '--dry-run', '--json'])).stdout).items[0].changes).toEqual({
    what: ['type standard → supervisor (routing, R-PI-3…R-PI-6)', 'the statements of data.sql'],
    effect: true,
  });
  expect(dry.stdout).toContain('(dry run: nothing changed)');
  const json = JSON.parse((await cli(['patch', 'repair', fixed, '--dry-run', '--json'])).stdout);
  expect(json).toMatchObject({ dryRun: true, items: [{ number: 2, holders: 6, storedChecksum: oldChecksum, oldChecksums: [oldChecksum], replacesPackage: true }] });
  const newChecksum: string = json.items[0].newChecksum;
  expect(newChecksum).not.toBe(oldChecksum);
  // without --yes and no terminal: refused, nothing changed
  const unconfirmed = await cli(['patch', 'repair', fixed]);
  expect(unconfirmed.code).toBe(2);
  expect(unconfirmed.stderr).toContain('Confirm with --yes (no terminal to ask on)');
  expect((await ledgers()).checksums).toEqual(before.checksums);

  // a patch run at work: refused, nothing realigned
  const running = await pool.query<{ id: string }>(`INSERT INTO nightshift.patch_run (workflow_id, mode, state) VALUES ('patch/main/repair-test', 'integrate', 'running') RETURNING id`);
  try {
    const busy = await cli(['patch', 'repair', fixed, '--yes']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/^nightshift: nothing realigned: no other patch run: .*; run it again once they have ended\n$/);
  } finally {
    await pool.query('DELETE FROM nightshift.patch_run WHERE id = $1', [running.rows[0]!.id]);
  }
  expect((await ledgers()).checksums).toEqual(before.checksums);

  // a repair cut off after its first page (each page is its own transaction: what a killed CLI leaves behind)
  const cut = await openRepair(pool, { number: 2, oldChecksums: [oldChecksum], newChecksum, dir: fixed, replacesPackage: true });
  expect(await repairPage(pool, { repairId: cut.id, number: 2, oldChecksums: [oldChecksum], newChecksum, after: '', size: 2 })).toEqual({ last: codes[1], repaired: 2 });
  expect((await ledgers()).checksums.filter((c) => c === newChecksum)).toHaveLength(2);

  const seq = async () => (await pool.query<{ s: string }>('SELECT change_seq::text AS s FROM nightshift.dossier ORDER BY code')).rows.map((r) => BigInt(r.s));
  const seqBefore = await seq();
  // patch status says it, with the command that goes on
  expect((await cli(['patch', 'status'])).stdout).toContain(
    `repair ${cut.id} of patch 2 was cut off (2 ledger(s) realigned, the stored package not yet replaced: a run fails the dossiers realigned): run 'nightshift patch repair ${fixed}' again`,
  );
  const done = await cli(['patch', 'repair', fixed, '--yes']);
  expect(done.stderr).toBe('');
  expect(done.code).toBe(0);
  expect(done.stdout).toBe(`patch 2: 6 dossier ledger(s) realigned to ${newChecksum.slice(0, 12)}…, the stored package replaced (repair ${cut.id}, going on from a repair cut off)\n`);
  const after = await ledgers();
  // R-BK-10: a dossier whose ledger the repair changed counts as modified (the next batch backs it up); the two
  // realigned before the cut-off were touched then
  const seqAfter = await seq();
  expect(seqAfter.filter((s, i) => s > seqBefore[i]!)).toHaveLength(4);
  expect(after.checksums).toEqual(codes.map(() => newChecksum));
  // nothing applied again: patches 1 and 2 once each in every dossier
  expect(after.applied).toEqual(before.applied);
  expect(after.applied).toEqual(codes.map(() => 2));
  const audit = async () =>
    (await pool.query('SELECT number, old_checksums, new_checksum, source_dir, replaces_package, dossiers, state, finished_at IS NOT NULL AS finished FROM nightshift.patch_repair ORDER BY id')).rows;
  expect(await audit()).toEqual([{ number: 2, old_checksums: [oldChecksum], new_checksum: newChecksum, source_dir: fixed, replaces_package: true, dossiers: 6, state: 'completed', finished: true }]);
  expect((await pool.query('SELECT checksum, source_dir FROM nightshift.patch_package WHERE number = 2')).rows).toEqual([{ checksum: newChecksum, source_dir: fixed }]);

  // run again: nothing left
  const nothing = `nothing to repair on main: every package of ${fixed} is stored with its own checksum, or not stored yet (integrate stores it)\n`;
  expect((await cli(['patch', 'repair', fixed])).stdout).toBe(nothing);
  expect((await cli(['patch', 'status'])).stdout).not.toContain('was cut off');

  // a dossier put back as an archive older than the repair had it (what a restore brings back: its ledger's old
  // checksum): the same repair finds it and realigns it alone, the stored package as it is
  await pool.query(`UPDATE ${qualified(schemaNameFor(codes[3]!), 'apatch')} SET checksum = $1 WHERE number = 2`, [oldChecksum]);
  const again = await cli(['patch', 'repair', fixed, '--dry-run']);
  expect(again.stdout).toContain(`patch 2 (B0002): stored with this folder's checksum ${newChecksum.slice(0, 12)}… since a repair; 1 dossier(s) hold an older checksum of it again`);
  const realignedAgain = await cli(['patch', 'repair', fixed, '--yes']);
  expect(realignedAgain.stdout).toMatch(new RegExp(`^patch 2: 1 dossier ledger\\(s\\) realigned to ${newChecksum.slice(0, 12)}… \\(repair \\d+\\)\n$`));
  expect((await ledgers()).checksums).toEqual(codes.map(() => newChecksum));
  expect((await audit())[1]).toMatchObject({ old_checksums: [oldChecksum], replaces_package: false, dossiers: 1, state: 'completed' });
  expect((await pool.query('SELECT checksum FROM nightshift.patch_package WHERE number = 2')).rows).toEqual([{ checksum: newChecksum }]);

  // two repairs at once (a third checksum): one realigns, the other finds it done
  const third = tempDir('repair-third');
  await blockablePatches(third, [1, 2], (n) => (n === 2 ? '-- the comment fixed again\n' : ''));
  const both = await Promise.all([cli(['patch', 'repair', third, '--yes']), cli(['patch', 'repair', third, '--yes'])]);
  expect(both.map((r) => r.code)).toEqual([0, 0]);
  const outs = both.map((r) => r.stdout).sort();
  // (the second one read before the first had ended and waited for the locks, or read after it)
  expect(outs[0]).toMatch(/^nothing left to repair on main: a repair that ran meanwhile did it\n$|^nothing to repair on main: every package of /);
  expect(outs[1]).toMatch(/^patch 2: 6 dossier ledger\(s\) realigned to [0-9a-f]{12}…, the stored package replaced \(repair \d+\)\n$/);
  const thirdChecksum = (await pool.query<{ checksum: string }>('SELECT checksum FROM nightshift.patch_package WHERE number = 2')).rows[0]!.checksum;
  expect((await ledgers()).checksums).toEqual(codes.map(() => thirdChecksum));
  // and back to the folder the next patch goes with
  expect((await cli(['patch', 'repair', fixed, '--yes'])).stdout).toMatch(/^patch 2: 6 dossier ledger\(s\) realigned to /);

  // the folder with its next patch integrates
  expect((await cli(['patch', 'repair', fixed])).stdout).toBe(nothing);
  await blockablePatches(fixed, [3]);
  const next = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await next.runUntil(async () => expect((await runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir: fixed })).state).toBe('completed'));
  expect(Object.values(await levels(pool))).toEqual(codes.map(() => 3));
});

test("Flyway's repair R-PI-8: a dossier whose ledger holds a checksum no package of the target had (restored from elsewhere) is refused, named with --accept-ledger; repair --accept-ledger CODE realigns it, nothing applied again (drill A, session 35: no way out)", async () => {
  const pool = ctx.stack.pools.get('main');
  const dir = tempDir('repair-accept');
  // the next patch after the test above (every dossier at 3)
  await blockablePatches(dir, [4]);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => expect((await runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir })).state).toBe('completed'));
  const stored = (await pool.query<{ checksum: string }>('SELECT checksum FROM nightshift.patch_package WHERE number = 4')).rows[0]!.checksum;
  const foreign = 'ab'.repeat(32);
  const ledger4 = async (code: string) => (await pool.query<{ checksum: string }>(`SELECT checksum FROM ${qualified(schemaNameFor(code), 'apatch')} WHERE number = 4`)).rows[0]!.checksum;
  await pool.query(`UPDATE ${qualified(schemaNameFor(codes[2]!), 'apatch')} SET checksum = $1 WHERE number = 4`, [foreign]);
  const applied = async () => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${qualified(schemaNameFor(codes[2]!), 'applylog')}`)).rows[0]!.n;
  const appliedBefore = await applied();

  // the plan refuses it and names the way out
  const plan = await cli(['patch', 'plan', dir]);
  expect(plan.stdout).toContain(`patch 4 was applied to dossier ${codes[2]} with checksum abababababab…, the package now has ${stored.slice(0, 12)}…: refused (R-PI-8)`);
  expect(plan.stdout).toContain(`'nightshift patch repair DIR --accept-ledger ${codes[2]}' realigns it`);
  // repair alone does not realign a checksum it never knew
  expect((await cli(['patch', 'repair', dir])).stdout).toMatch(/^nothing to repair on main: /);
  // hostile input: an unknown code, a bad list: exit 2, nothing changed
  expect(await cli(['patch', 'repair', dir, '--accept-ledger', 'NOPE99', '--yes'])).toMatchObject({ code: 2, stderr: 'nightshift: --accept-ledger: no dossier NOPE99 on target main: nothing changed\n' });
  expect((await cli(['patch', 'repair', dir, '--accept-ledger', 'a,,b', '--yes'])).code).toBe(2);
  // a dossier in line has nothing to accept
  const inLine = await cli(['patch', 'repair', dir, '--accept-ledger', codes[0]!]);
  expect(inLine.stderr).toBe(`${codes[0]}: its ledger holds ${dir}'s checksums already: nothing to accept\n`);
  expect(await ledger4(codes[2]!)).toBe(foreign);

  const dry = await cli(['patch', 'repair', dir, '--accept-ledger', codes[2]!, '--dry-run']);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(
    `patch 4 (B0004): ${codes[2]} holds checksum abababababab…, which no package of this target had (accepted with --accept-ledger: its content taken for this package's); ` +
      `1 dossier ledger(s) holding it or an older checksum take this folder's ${stored.slice(0, 12)}…, nothing is applied again`,
  );
  expect(await ledger4(codes[2]!)).toBe(foreign);
  const done = await cli(['patch', 'repair', dir, '--accept-ledger', codes[2]!, '--yes']);
  expect(done).toMatchObject({ code: 0, stderr: '' });
  expect(done.stdout).toMatch(new RegExp(`^patch 4: 1 dossier ledger\\(s\\) realigned to ${stored.slice(0, 12)}… \\(repair \\d+\\)\\n$`));
  expect(await ledger4(codes[2]!)).toBe(stored);
  expect(await applied()).toBe(appliedBefore);
  // the audit trail keeps the checksum accepted
  const last = (await pool.query('SELECT number, old_checksums, replaces_package, dossiers FROM nightshift.patch_repair ORDER BY id DESC LIMIT 1')).rows[0];
  expect(last).toMatchObject({ number: 4, old_checksums: [foreign], replaces_package: false, dossiers: 1 });
  // and the plan passes
  expect((await cli(['patch', 'plan', dir])).stdout).not.toContain('refused (R-PI-8);');
});
