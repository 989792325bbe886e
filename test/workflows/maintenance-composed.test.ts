import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type pg from 'pg';
import { verifyArchive } from '../../archive/engine';
import { demoPatchFolder, generateDemoPatches } from '../../patches/demo';
import { sealPatchPackage } from '../../patches/package';
import { gateStateAt, loginsRefusedAt } from '../../domain/maintenance';
import { ACTIVE_WINDOW_SQL, toWindow, type WindowRow } from '../../gate/notices';
import type { BackupBatchResult } from '../../workflows/backup-batch.api';
import type { MaintenanceWindowInput, MaintenanceWindowResult } from '../../workflows/maintenance-window.api';
import { startBackupBatch, startMaintenanceWindow } from '../../starts';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, tempDir, type TestStack } from '../helpers/env';
import { demoDossiers, levels, markAllBackedUp } from './patch-helpers';

/**
 * The maintenance window composed with the batches it runs (R-MW-9), on the dev server in real time:
 * a backup payload, and the whole deployment of issue 5 up to the next backup run (R-BK-10).
 * Demo dossiers (registry/demo.ts): 0001 supervisor, 0002 template, 0003 copy, 0004 test, 0006 specific.
 */

jest.setTimeout(180_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

/** A window starting in 2 s with a 1 s drain grace: nobody is logged in, so the work follows at once. */
function soonWindow(type: MaintenanceWindowInput['type'], payload: MaintenanceWindowInput['payload']): MaintenanceWindowInput {
  const start = Math.ceil((Date.now() + 2000) / 1000) * 1000;
  return {
    target: 'main',
    type,
    startsAt: new Date(start).toISOString(),
    endsAt: new Date(start + 30 * 60_000).toISOString(),
    payload,
    graceSeconds: 1,
    startWhenDrained: false,
    dbDrain: false,
    notify: [],
  };
}

async function runWindow(stack: TestStack, input: MaintenanceWindowInput): Promise<MaintenanceWindowResult> {
  const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `${input.payload.kind} window` });
  return (await h.result()) as MaintenanceWindowResult;
}

async function lastBackups(pool: pg.Pool): Promise<Record<string, boolean>> {
  const { rows } = await pool.query<{ code: string; b: boolean }>('SELECT code, last_backup_at IS NOT NULL AS b FROM nightshift.dossier ORDER BY code');
  return Object.fromEntries(rows.map((r) => [r.code, r.b]));
}

/** What the gate decides from the database, as it reads it (gate/notices.ts). */
async function gateState(pool: pg.Pool): Promise<{ state: string; loginsRefused: boolean }> {
  const window = toWindow((await pool.query<WindowRow>(ACTIVE_WINDOW_SQL)).rows[0]);
  return { state: gateStateAt(window, new Date()), loginsRefused: loginsRefusedAt(window, new Date()) };
}

const archiveOf = (stack: TestStack, code: string) => path.join(stack.config.backupDir, `B${code}.SVG`);

test('R-MW-9 R-MW-10 R-BK-2: a database window with payload backup backs up the chosen eligible dossiers, then gives access back', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 7);
    expect(codes).toHaveLength(7);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    // 0002 is a template: left out of the nightly selection (R-BK-2), taken since the window names it (as backup run --only)
    const chosen = ['DEMO0002', 'DEMO0003', 'DEMO0005', 'DEMO0006'];
    const result = await worker.runUntil(runWindow(stack, soonWindow('database', { kind: 'backup', dossiers: chosen })));

    expect(result.status.state).toBe('completed');
    expect(result.status.failure).toBeUndefined();
    expect(result.status.phases.map((p) => p.phase)).toEqual(expect.arrayContaining(['working', 'checking', 'restoring', 'completed']));
    const runs = (await pool.query<{ state: string; workflow_id: string; only_codes: string[] }>('SELECT state, workflow_id, only_codes FROM nightshift.backup_run')).rows;
    expect(runs).toEqual([{ state: 'completed', workflow_id: expect.stringMatching(/^backup\/main\//), only_codes: chosen }]);
    const backedUp = ['DEMO0002', 'DEMO0003', 'DEMO0005', 'DEMO0006'];
    for (const code of codes) expect({ code, archive: fs.existsSync(archiveOf(stack, code)) }).toEqual({ code, archive: backedUp.includes(code) });
    expect(await lastBackups(pool)).toEqual(Object.fromEntries(codes.map((c) => [c, backedUp.includes(c)])));
    // access is back: the gate reads no active window and accepts logins again
    expect(await gateState(pool)).toEqual({ state: 'open', loginsRefused: false });
    expect((await pool.query('SELECT state, phase FROM nightshift.maintenance_window')).rows).toEqual([{ state: 'completed', phase: 'completed' }]);
  } finally {
    await stack.close();
  }
});

test('R-MW-9 R-MW-10 R-PI-8 R-BK-10: deployment window -> patch payload -> restore -> the next backup run backs up every patched dossier', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 8);
    const dir = tempDir('patches');
    await generateDemoPatches(dir, 3);
    // everything backed up before the deployment: only what the patches touch is modified afterwards
    await markAllBackedUp(pool);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(async () => {
      const window = await runWindow(stack, soonWindow('deployment', { kind: 'patch', manifest: dir }));
      expect(window.status.state).toBe('completed');
      expect(await levels(pool)).toEqual(Object.fromEntries(codes.map((c) => [c, 3])));
      expect(await gateState(pool)).toEqual({ state: 'open', loginsRefused: false });

      const h = await startBackupBatch(temporal.client, { target: 'main', trigger: 'manual' }, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
      const batch = (await h.result()) as BackupBatchResult;
      // R-BK-2: template 0002 and test 0004 are patched but never backed up by the batch
      const eligible = codes.filter((c) => c !== 'DEMO0002' && c !== 'DEMO0004');
      expect(batch).toMatchObject({ state: 'completed', total: eligible.length, ok: eligible.length, failed: 0 });
      const items = (
        await pool.query<{ code: string; status: string; file: string | null }>('SELECT code, status, file FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code', [batch.runId])
      ).rows;
      expect(items.map((i) => [i.code, i.status])).toEqual(eligible.map((c) => [c, 'ok']));
      for (const item of items) {
        // the archive holds the patched dossier: it reads back whole, at the level the patches left
        const v = await verifyArchive(item.file!);
        expect([v.code, v.patchLevel]).toEqual([item.code, 3]);
        expect(path.resolve(item.file!)).toBe(archiveOf(stack, item.code));
      }
      const { rows } = await pool.query<{ code: string }>('SELECT code FROM nightshift.dossier WHERE backup_seq IS NULL OR change_seq > backup_seq ORDER BY code');
      expect(rows.map((r) => r.code)).toEqual(['DEMO0002', 'DEMO0004']);
    });
  } finally {
    await stack.close();
  }
});

// drill M: a mistyped --patch-dir started the window, cut service, then failed it, the target closed until reopen
test('R-MW-12 R-PI-1: a window whose patch payload cannot be read ends at its start, cancelled, without closing anything; the workflow fails with why', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 3);
    const missing = path.join(tempDir('patches-parent'), 'no-such', '2026-12');
    // a user logged in: never told to close
    await pool.query(`INSERT INTO nightshift.session (id, user_name, client, token_hash, expires_at) VALUES ($1, 'u1', 'c1', 'h1', now() + interval '1 hour')`, [crypto.randomUUID()]);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const h = await startMaintenanceWindow(temporal.client, soonWindow('deployment', { kind: 'patch', manifest: missing }), { taskQueue: stack.config.temporal.taskQueue, summary: 'patch window' });
    const { failed, phases } = await worker.runUntil(async () => {
      const err = await h.result().then(() => undefined, (e: Error) => e);
      return { failed: err, phases: ((await h.query('status')) as { phases: { phase: string }[] }).phases.map((p) => p.phase) };
    });
    expect(failed).toBeDefined();
    const cause = (failed as Error & { cause?: Error }).cause;
    expect(cause?.message).toMatch(/^not started, access never cut: the patch payload cannot be read: no patch directory .*no-such\/2026-12 on host /);
    const [row] = (await pool.query('SELECT state, phase, outcome FROM nightshift.maintenance_window')).rows;
    expect(row).toMatchObject({ state: 'cancelled', phase: 'cancelled', outcome: expect.stringMatching(/^cancelled after a failure: not started, access never cut: /) });
    // nothing closed: the session was never told, no patch run claimed, the gate open
    expect((await pool.query('SELECT close_requested_at, close_told_at, closed_at FROM nightshift.session')).rows).toEqual([{ close_requested_at: null, close_told_at: null, closed_at: null }]);
    expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0].n).toBe(0);
    expect(await gateState(pool)).toEqual({ state: 'open', loginsRefused: false });
    expect(phases).toEqual(['scheduled', 'cancelled']);
  } finally {
    await stack.close();
  }
});


// drill A, session 35: a package edited after it was integrated passed the window's check, cut service, then the run
// refused it (R-PI-8) and the window stayed closed until reopen
test('R-MW-12 R-PI-8: a window whose patch payload holds a package changed since it was integrated ends at its start without closing anything, saying ChecksumDrift and the repair', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 3);
    const dir = tempDir('patches');
    await generateDemoPatches(dir, 2);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(async () => {
      expect((await runWindow(stack, soonWindow('deployment', { kind: 'patch', manifest: dir }))).status.state).toBe('completed');
      const runs = (await pool.query('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0].n as number;
      // patch 2 edited and sealed again: its checksum is no longer the one the dossiers applied
      fs.appendFileSync(path.join(dir, demoPatchFolder(2), 'data', '0002.sql'), '-- edited\n');
      await sealPatchPackage(path.join(dir, demoPatchFolder(2)));
      const h = await startMaintenanceWindow(temporal.client, soonWindow('deployment', { kind: 'patch', manifest: dir }), { taskQueue: stack.config.temporal.taskQueue, summary: 'patch window' });
      const failed = await h.result().then(() => undefined, (e: Error) => e);
      expect((failed as Error & { cause?: Error }).cause?.message).toMatch(
        /^not started, access never cut: the patch payload is refused: patch 2 was already integrated on this target with checksum [0-9a-f]{12}… .*: refused \(R-PI-8\); .*'nightshift patch repair /,
      );
      // nothing closed, no run claimed
      expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.patch_run')).rows[0].n).toBe(runs);
      expect(await gateState(pool)).toEqual({ state: 'open', loginsRefused: false });
    });
  } finally {
    await stack.close();
  }
});
