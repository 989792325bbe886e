import fs from 'node:fs';
import path from 'node:path';
import { createTestStack, createTestWorker } from '../helpers/env';
import { runCli, stackCliEnv, useCliStack } from '../helpers/cli';
import { changedSinceText, laterPatchesText } from '../../cli/commands/patch-rollback';
import { openSession } from '../workflows/backup-batch-helpers';
import { blockablePatches, closeWindows, demoDossiers, levels, openWindow, runPatch } from '../workflows/patch-helpers';
import { block, halfWayPatches, rollbackLedger } from '../workflows/patch-rollback-helpers';

/** `nightshift patch rollback` spawned as a process against the real servers (R-PI-11, R-PI-2). */

jest.setTimeout(300_000);
const ctx = useCliStack(120_000);

test('R-PI-11 R-PI-2: patch rollback refuses before starting anything (bad usage exit 2; outside a window, no restore point exit 1), then --run ID --failed-only --wait rolls back and prints the result', async () => {
  const { stack, cli } = ctx;
  const pool = stack.pools.get('main');
  await demoDossiers(stack, 5);
  const dir = path.join(stack.config.backupDir, 'patches', 'cli-rollback');
  fs.mkdirSync(dir, { recursive: true });
  await halfWayPatches(dir);
  await block(pool, ['DEMO0003']);
  const worker = await createTestWorker(stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // usage: exactly one scope; --failed-only goes with --run
    // in the schema's own words, no internal field name before them
    const none = await cli(['patch', 'rollback']);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('nightshift: give dossier codes, a patch run (--run) or a rollback run to retry (--retry): exactly one of them\n');
    const alone = await cli(['patch', 'rollback', 'DEMO0002', '--failed-only']);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toBe('nightshift: --failed-only goes with --run\n');
    const letters = await cli(['patch', 'rollback', '--run', 'abc']);
    expect(letters.code).toBe(2);
    expect(letters.stderr).toMatch(/--run.*a run id is a positive whole number \(see patch status\)/);
    expect(letters.stderr).not.toMatch(/NaN/);
    // codes that name no dossier: said so (one in the wrong case named with the one meant), not "no restore point"
    const unknown = await cli(['patch', 'rollback', 'NOPE99', 'demo0002']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("nightshift: not dossiers of target main: NOPE99, demo0002 (codes are case-sensitive: DEMO0002?); nothing started (see 'nightshift dossiers list')\n");

    await openWindow(pool);
    // no restore point yet (the run below takes them): refused, nothing started
    const noPoint = await cli(['patch', 'rollback', 'DEMO0001']);
    expect(noPoint.code).toBe(1);
    expect(noPoint.stderr).toMatch(/NoRestorePoint: no restore point to roll back to for DEMO0001 on main: .*nothing was changed/);
    const run = await runPatch(ctx.temporal.client, stack, { mode: 'integrate', dir, restorePoints: true });
    expect(run.state).toBe('partial');

    // outside a window: refused, nothing started
    await closeWindows(pool);
    const outside = await cli(['patch', 'rollback', '--run', String(run.runId), '--failed-only']);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/RollbackPrerequisiteFailed: rollback refused on main \(R-PI-2\), nothing started:\n {2}maintenance window in progress: no maintenance window is in progress on main/);
    expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.patch_rollback_run')).rows[0].n).toBe(0);
    // a run id that names nothing is a slip, said before R-PI-2 (drill of 2026-12-06: found only once a window had cut service)
    expect(await cli(['patch', 'rollback', '--run', '99999'])).toMatchObject({ code: 2, stderr: expect.stringContaining('no patch run 99999') });
    expect(await cli(['patch', 'rollback', '--retry', '99999'])).toMatchObject({ code: 2, stderr: expect.stringContaining('no rollback run 99999') });
    // drill M: a preview, outside a window too: what it would restore, that it would be refused now; nothing started
    const preview = await cli(['patch', 'rollback', '--run', String(run.runId), '--dry-run']);
    expect(preview.stderr).toBe('');
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(new RegExp(`^patch rollback of the dossiers of patch run ${run.runId} on main would restore \\d+ dossier\\(s\\) to their restore points \\(--dry-run: nothing started\\):$`, 'm'));
    expect(preview.stdout).toMatch(new RegExp(`^  DEMO0003: at patch \\d+ now, back to patch 0: restore point generation \\d+ taken \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\(\\S+\\) by patch run ${run.runId}$`, 'm'));
    expect(preview.stdout).toMatch(/^if started now, it would be refused \(R-PI-2\):\n {2}maintenance window in progress: no maintenance window is in progress on main/m);
    const previewJson = JSON.parse((await cli(['patch', 'rollback', '--run', String(run.runId), '--failed-only', '--dry-run', '--json'])).stdout);
    expect(previewJson).toMatchObject({ target: 'main', scope: `the failed dossiers of patch run ${run.runId}`, total: 1, dossiers: [{ code: 'DEMO0003', patchRun: run.runId, restoreLevel: 0 }] });
    expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.patch_rollback_run')).rows[0].n).toBe(0);

    await openWindow(pool);
    const done = await cli(['patch', 'rollback', '--run', String(run.runId), '--failed-only', '--wait']);
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/^started patch-rollback\/main\/\d{8}T\d{6}Z$/m);
    expect(done.stdout).toMatch(/^patch rollback on main \(rollback run \d+\): completed$/m);
    expect(done.stdout).toMatch(new RegExp(`^scope: the failed dossiers of patch run ${run.runId}$`, 'm'));
    expect(done.stdout).toMatch(/^1 \/ 1 dossier\(s\) restored to their restore point, 0 failed$/m);
    expect(done.stdout).toMatch(/^restored: DEMO0003$/m);
    expect((await levels(pool)).DEMO0003).toBe(0);
    expect(await rollbackLedger(pool)).toEqual({ restored: { DEMO0003: 1 }, markedRolledBack: ['DEMO0003'] });
    // R-OP-1: what --wait printed, any time later from the ledger (the Web UI keeps it; the CLI had no way back to it)
    const rollbackId = /\(rollback run (\d+)\)/.exec(done.stdout)![1]!;
    const shown = await cli(['patch', 'status', '--rollback', rollbackId]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^patch rollback on main \\(rollback run ${rollbackId}\\): completed\nscope: the failed dossiers of patch run ${run.runId}\n1 / 1 dossier\\(s\\) restored to their restore point, 0 failed\nrestored: DEMO0003\nstarted `));
    const shownJson = JSON.parse((await cli(['patch', 'status', '--rollback', rollbackId, '--json'])).stdout);
    expect(shownJson).toMatchObject({ runId: Number(rollbackId), state: 'completed', restored: 1, restoredCodes: ['DEMO0003'], failuresTotal: 0 });
    expect(await cli(['patch', 'status', '--rollback', '999999'])).toMatchObject({ code: 2, stderr: expect.stringContaining('no rollback run 999999 on main') });
    expect(await cli(['patch', 'status', '--rollback', rollbackId, '--run', String(run.runId)])).toMatchObject({ code: 2 });
    // again: nothing left to roll back, counted among the failed dossiers only
    const again = await cli(['patch', 'rollback', '--run', String(run.runId), '--failed-only']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`the failed dossiers of patch run ${run.runId} are already rolled back (1); nothing was changed`);

    // run ids that name nothing: bad usage, exit 2, nothing started (was a workflow failing on a foreign key)
    const noRun = await cli(['patch', 'rollback', '--run', '999999']);
    expect(noRun).toMatchObject({ code: 2, stderr: "nightshift: no patch run 999999 on main (see 'nightshift patch status'); nothing was changed\n" });
    const noRetry = await cli(['patch', 'rollback', '--retry', '999999']);
    expect(noRetry).toMatchObject({ code: 2, stderr: 'nightshift: no rollback run 999999 on main; nothing was changed\n' });

    // the supervisor alone taken back below the dossiers that follow it: said, nothing started without --yes
    const supervisor = await cli(['patch', 'rollback', 'DEMO0001']);
    expect(supervisor.code).toBe(2);
    expect(supervisor.stderr).toContain('nightshift: this rollback would undo more than its patch run; nothing started (add --yes to roll back anyway):');
    expect(supervisor.stderr).toContain('DEMO0001 (supervisor) would go back to patch 0, below 3 other dossier(s) at a higher level (R-PI-4: the supervisor first');

    // a restore point older than a later run's patches: said with the levels, then done with --yes
    await blockablePatches(dir, [3]);
    const later = await runPatch(ctx.temporal.client, stack, { mode: 'integrate', dir });
    expect((await levels(pool)).DEMO0002).toBe(3);
    const undo = await cli(['patch', 'rollback', 'DEMO0002']);
    expect(undo.code).toBe(2);
    // the preview says what the rollback would ask --yes for, in its own words
    const undoPreview = await cli(['patch', 'rollback', 'DEMO0002', '--dry-run']);
    expect(undoPreview.code).toBe(0);
    expect(undoPreview.stdout).toContain('this rollback would undo more than its patch run; the rollback asks for --yes:\n');
    expect(undoPreview.stdout).toMatch(/^if started now, its prerequisites would be met \(R-PI-2\)$/m);
    expect(undo.stderr).toContain(`DEMO0002: at patch 3 now; patch run ${run.runId} left it at 2; its restore point is at patch 0: patch 3 of later runs would be undone too`);
    // the later run's own writes are not users' (drill M: every dossier patched again was said written to, its data lost)
    expect(undo.stderr).not.toContain('written to since');
    expect(later.runId).toBeGreaterThan(run.runId!);
    expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.patch_rollback_run')).rows[0].n).toBe(1);
    const forced = await cli(['patch', 'rollback', 'DEMO0002', '--yes', '--wait']);
    expect(forced.code).toBe(0);
    expect((await levels(pool)).DEMO0002).toBe(0);
  });
});

test('R-PI-11: patch rollback says which dossiers were written to since the patch (their data is lost with it) and starts nothing without --yes; unwritten ones roll back as before', async () => {
  // a database of its own: the test above leaves its dossiers patched and rolled back
  const stack = await createTestStack();
  const cli = (args: string[]) => runCli(args, stackCliEnv(stack), 120_000);
  const pool = stack.pools.get('main');
  const rollbackRuns = async () => (await pool.query('SELECT count(*)::int AS n FROM nightshift.patch_rollback_run')).rows[0].n;
  try {
    await demoDossiers(stack, 5);
    const dir = path.join(stack.config.backupDir, 'patches', 'cli-rollback-written');
    fs.mkdirSync(dir, { recursive: true });
    await halfWayPatches(dir);
    const worker = await createTestWorker(stack, ctx.temporal.nativeConnection);
    await worker.runUntil(async () => {
      await openWindow(pool);
      const run = await runPatch(ctx.temporal.client, stack, { mode: 'integrate', dir, restorePoints: true });
      expect(run.state).toBe('completed');
      // the patch itself wrote to every dossier: that alone is no reason to refuse
      const clean = await cli(['patch', 'rollback', 'DEMO0002', '--wait']);
      expect(clean.stderr).toBe('');
      expect(clean.code).toBe(0);
      expect((await levels(pool)).DEMO0002).toBe(0);
      expect(await rollbackRuns()).toBe(1);

      // a user writes to DEMO0005 after the patch; DEMO0003's item stands for one recorded before migration 0023
      const userRow = () => pool.query(`SELECT 1 FROM "d_DEMO0005".parametre WHERE cle = 'written.after.patch'`);
      await pool.query(`INSERT INTO "d_DEMO0005".parametre (cle, valeur) VALUES ('written.after.patch', '1'::jsonb)`);
      await pool.query(`UPDATE nightshift.patch_run_item SET change_seq_after = NULL WHERE run_id = $1 AND code = 'DEMO0003'`, [run.runId]);
      const byRun = await cli(['patch', 'rollback', '--run', String(run.runId)]);
      expect(byRun.code).toBe(2);
      expect(byRun.stderr).toBe(
        'nightshift: this rollback would lose data written since the patch; nothing started (add --yes to roll back anyway):\n' +
          '  1 dossier(s) written to since a patch run last finished with them: DEMO0005\n' +
          '  1 dossier(s) patched before Nightshift recorded their change counter, written to since their restore point (by the patch, by users: unknown): DEMO0003\n' +
          '  a restore point is the dossier as it was before its patch: what users wrote there since is lost\n',
      );
      const byCode = await cli(['patch', 'rollback', 'DEMO0005', 'DEMO0003', 'DEMO0004']);
      expect(byCode.code).toBe(2);
      expect(byCode.stderr).toContain('  1 dossier(s) written to since a patch run last finished with them: DEMO0005\n');
      expect(await rollbackRuns()).toBe(1);
      expect((await userRow()).rowCount).toBe(1);

      // --yes: rolled back as before (DEMO0005 open in a session meanwhile: not restored, left for a retry)
      const closeSession = await openSession(pool, 'DEMO0005');
      const forced = await cli(['patch', 'rollback', '--run', String(run.runId), '--yes', '--wait']);
      expect(forced.code).toBe(1);
      expect(forced.stdout).toMatch(/^patch rollback on main \(rollback run \d+\): partial$/m);
      expect(forced.stdout).toMatch(/^3 \/ 4 dossier\(s\) restored to their restore point, 1 failed$/m);
      expect((await levels(pool)).DEMO0003).toBe(0);
      await closeSession();
      // the retry would replace the same data: said the same way, nothing started without --yes
      const retryOf = String((await pool.query('SELECT max(id)::int AS id FROM nightshift.patch_rollback_run')).rows[0].id);
      const retry = await cli(['patch', 'rollback', '--retry', retryOf]);
      expect(retry.code).toBe(2);
      expect(retry.stderr).toContain('  1 dossier(s) written to since a patch run last finished with them: DEMO0005\n');
      expect(await rollbackRuns()).toBe(2);
      expect((await userRow()).rowCount).toBe(1);
      const retried = await cli(['patch', 'rollback', '--retry', retryOf, '--yes', '--wait']);
      expect(retried.stderr).toBe('');
      expect(retried.code).toBe(0);
      expect((await levels(pool)).DEMO0005).toBe(0);
      expect((await userRow()).rowCount).toBe(0);
      // a retry of a rollback with nothing failed: an answer, exit 0, nothing started (as `patch retry` says it; drill: NoRestorePoint, exit 1)
      const cleanRun = String((await pool.query('SELECT max(id)::int AS id FROM nightshift.patch_rollback_run')).rows[0].id);
      expect(await cli(['patch', 'rollback', '--retry', cleanRun])).toEqual({ code: 0, stdout: `rollback run ${cleanRun} has no failed dossier: nothing to retry\n`, stderr: '' });
      expect(String((await pool.query('SELECT max(id)::int AS id FROM nightshift.patch_rollback_run')).rows[0].id)).toBe(cleanRun);
    });
  } finally {
    await stack.close();
  }
});

test('R-PI-11: the refusal counts every dossier written to since the patch and names the first ones', () => {
  const codes = Array.from({ length: 20 }, (_, i) => `BIG${String(1601 + i)}`);
  const text = changedSinceText({ changed: { total: 23, codes }, unknown: { total: 0, codes: [] } });
  expect(text.split('\n')[1]).toBe(`  23 dossier(s) written to since a patch run last finished with them: ${codes.join(' ')} and 3 more`);
  expect(text).not.toContain('unknown');
  expect(changedSinceText({ changed: { total: 0, codes: [] }, unknown: { total: 0, codes: [] } })).toBe('');
});

test('R-PI-11: the refusal of a rollback that undoes later runs names the first 20 dossiers and counts the rest (drill M: one line per dossier, 10,000 at 10,000)', () => {
  const undone = Array.from({ length: 151 }, (_, i) => ({ code: `D${String(i).padStart(4, '0')}`, patchRun: 21, runLevel: 14, restoreLevel: 13, level: 18, supervisor: false, above: 0 }));
  const lines = laterPatchesText(undone).split('\n');
  expect(lines).toHaveLength(1 + 20 + 1);
  expect(lines[1]).toBe('  D0000: at patch 18 now; patch run 21 left it at 14; its restore point is at patch 13: patches 15 → 18 of later runs would be undone too');
  expect(lines[21]).toBe("  and 131 more dossier(s) (patch status lists each one's level)");
  expect(laterPatchesText(undone.slice(0, 20)).split('\n')).toHaveLength(21);
});

test('R-PI-11 R-PI-9: a refusal names the later runs; "roll back those runs first" only of runs with a restore point of the dossier, else --yes and the revalidate (tester B)', () => {
  const u = { code: 'DEMO0005', patchRun: 9, runLevel: 9, restoreLevel: 5, level: 15, supervisor: false, above: 0 };
  const sup = { ...u, code: 'DEMO0001', supervisor: true };
  const runs = new Map([
    ['DEMO0005', [{ run: 24, restorePoint: false }, { run: 12, restorePoint: true }]],
    ['DEMO0001', [{ run: 24, restorePoint: false }]],
    ['DEMO0006', [{ run: 26, restorePoint: true }, { run: 25, restorePoint: true }]],
  ]);
  const lines = laterPatchesText([sup, u, { ...u, code: 'DEMO0006' }], 'the rollback asks for --yes', { target: 'main', runs }).split('\n');
  expect(lines[1]).toBe(
    '  DEMO0001: at patch 15 now; patch run 9 left it at 9; its restore point is at patch 5: patches 10 → 15 of later runs would be undone too ' +
      '(patch run 24 took no restore point of it and cannot be rolled back: --yes undoes its patches with this rollback; then integrate the folder again, supervisor first: nightshift patch integrate DIR --target main)',
  );
  expect(lines[2]).toBe(
    '  DEMO0005: at patch 15 now; patch run 9 left it at 9; its restore point is at patch 5: patches 10 → 15 of later runs would be undone too ' +
      "(patch run 24 took no restore point of it and cannot be rolled back: --yes undoes its patches with this rollback; then bring it back up to the supervisor's level (R-PI-9): nightshift patch revalidate DEMO0005 --target main)",
  );
  expect(lines[3]).toMatch(/would be undone too \(patch runs 26, 25 took a restore point of it: roll them back first, newest first\)$/);
});
