import { createTestWorker, tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { blockablePatches, demoDossiers, levels, openWindow, runPatch } from '../workflows/patch-helpers';

/**
 * Tester B, against the real servers: after a `patch repair`, a rollback's dry run said every dossier it had realigned
 * was "written to since", what users wrote there "lost" (the repair's own bump of the change counter, R-BK-10); and a
 * rollback undoing later `patch integrate` runs without restore points said "roll back those runs first", which the
 * rollback refuses (NoRestorePoint).
 */

const ctx = useCliStack(120_000);
const cli = ctx.cli;

jest.setTimeout(240_000);

const WRITTEN = 'written to since';

test('R-PI-11 R-PI-8: a repair realigning the ledgers is no user\'s write (the dossier stays modified for its backup); a user\'s write before or after it still counts; later runs without restore points are named with what --yes and revalidate do', async () => {
  const pool = ctx.stack.pools.get('main');
  await demoDossiers(ctx.stack, 6);
  await openWindow(pool);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
  const first = tempDir('rb-repair-first');
  await blockablePatches(first, [1, 2]);
  const run = await runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir: first, restorePoints: true });
  expect(run.state).toBe('completed');
  const before = await cli(['patch', 'rollback', '--run', String(run.runId), '--dry-run']);
  expect(before.code).toBe(0);
  expect(before.stdout).not.toContain(WRITTEN);

  // a user writes to DEMO0003 before the repair
  await pool.query(`INSERT INTO "d_DEMO0003".parametre (cle, valeur) VALUES ('user.before.repair', '1'::jsonb)`);
  const seq = async (code: string) => (await pool.query<{ s: string }>(`SELECT change_seq::text AS s FROM nightshift.dossier WHERE code = $1`, [code])).rows[0]!.s;
  const seqBefore = await seq('DEMO0002');
  // both packages get a comment and are resealed: one repair, two patches, two realignments of each ledger
  const fixed = tempDir('rb-repair-fixed');
  await blockablePatches(fixed, [1, 2], () => '-- a comment fixed after the fact\n');
  const repaired = await cli(['patch', 'repair', fixed, '--yes']);
  expect(repaired.stderr).toBe('');
  expect(repaired.code).toBe(0);
  // the ledger changed: modified for the next backup (the touch trigger's bump is kept)
  expect(BigInt(await seq('DEMO0002'))).toBeGreaterThan(BigInt(seqBefore));
  // a user writes to DEMO0004 after it
  await pool.query(`INSERT INTO "d_DEMO0004".parametre (cle, valeur) VALUES ('user.after.repair', '1'::jsonb)`);

  for (const scope of [['--run', String(run.runId)], ['DEMO0002', 'DEMO0003', 'DEMO0004', 'DEMO0005', 'DEMO0006']]) {
    const after = await cli(['patch', 'rollback', ...scope, '--dry-run']);
    expect(after.code).toBe(0);
    // only the users' writes: the repair's realignment is not one
    expect(after.stdout).toContain(`  2 dossier(s) ${WRITTEN} a patch run last finished with them: DEMO0003 DEMO0004\n`);
  }

  // a later integrate without restore points: its patch would be undone, and that run cannot be rolled back itself
  const later = tempDir('rb-repair-later');
  await blockablePatches(later, [1, 2, 3], (n) => (n < 3 ? '-- a comment fixed after the fact\n' : ''));
  const third = await runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir: later });
  expect(third.state).toBe('completed');
  const undo = await cli(['patch', 'rollback', 'DEMO0005', '--dry-run']);
  expect(undo.code).toBe(0);
  expect(undo.stdout).toContain(
    `  DEMO0005: at patch 3 now; patch run ${run.runId} left it at 2; its restore point is at patch 0: patch 3 of later runs would be undone too ` +
      `(patch run ${third.runId} took no restore point of it and cannot be rolled back: --yes undoes its patches with this rollback; ` +
      "then bring it back up to the supervisor's level (R-PI-9): nightshift patch revalidate DEMO0005 --target main)",
  );
  expect(undo.stdout).not.toContain('roll back those runs first');
  expect(undo.stdout).not.toContain(WRITTEN);
  const json = JSON.parse((await cli(['patch', 'rollback', 'DEMO0005', '--dry-run', '--json'])).stdout);
  expect(json.laterPatchesUndone).toEqual([expect.objectContaining({ code: 'DEMO0005', laterRuns: [{ run: third.runId, restorePoint: false }] })]);
  // what the advice says is true: the later run itself is refused, the rollback with --yes goes, revalidate brings it back
  expect(await cli(['patch', 'rollback', '--run', String(third.runId), '--dry-run'])).toMatchObject({ code: 1, stderr: expect.stringContaining('NoRestorePoint') });
  expect(await cli(['patch', 'rollback', 'DEMO0005', '--yes', '--wait'])).toMatchObject({ code: 0 });
  expect((await levels(pool)).DEMO0005).toBe(0);
  expect(await cli(['patch', 'revalidate', 'DEMO0005', '--wait'])).toMatchObject({ code: 0 });
  expect((await levels(pool)).DEMO0005).toBe(3);
  });
});
