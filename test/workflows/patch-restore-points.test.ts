import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { type ChildProcess, spawn } from 'node:child_process';
import type pg from 'pg';
import { PROJECT_ROOT } from '../../config/config';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { generateDemoDossiers } from '../../registry/demo';
import { createBackupActivities } from '../../activities/backup';
import { ensureRestorePoint, runChangesDossier, restorePointHolder, RESTORE_POINT_LEASE_SECONDS, RESTORE_POINT_REASON } from '../../activities/patch/restore-point';
import { loadStoredPatches, storePatchPackages } from '../../activities/patch';
import { backupDossierArchive, verifyArchive } from '../../archive/engine';
import { readPatchDirectory } from '../../patches/package';
import { insertRun } from '../../store/patch/insert-run';
import { openItems } from '../../store/patch/open-items';
import { patchDossiersByCode } from '../../store/patch/dossiers-by-code';
import { markRestorePointTaking } from '../../store/patch/restore-point-taking';
import { markGenerationVerified } from '../../store/generations/mark-verified';
import { setCommonBackupSetting } from '../../store/settings/backup-settings';
import { failureTypeOf } from '../../domain/failures';
import { PatchFailure } from '../../workflows/patch-integration.api';
import type { StoredPatch } from '../../store/patch/stored-patches';
import { FailureType } from '../../domain/failures';
import type { MaintenanceWindowInput, MaintenanceWindowResult } from '../../workflows/maintenance-window.api';
import type { PatchRunResult } from '../../workflows/patch-integration.api';
import { startMaintenanceWindow } from '../../starts';
import { scheduleInput } from '../../cli/commands/maintenance';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { freePort, openSession, waitFor } from './backup-batch-helpers';
import { blockablePatches, demoDossiers, levels, markAllBackedUp, modifiedSinceBackup, openWindow, runPatch, startRun } from './patch-helpers';

/**
 * Restore points (R-PI-11, issue 14.2) on the dev server with real activities, archives and database: a
 * run with `restorePoints` records a verified generation of each dossier it changes in its ledger before
 * patching it, reuses one when the dossier is unmodified since, patches nothing without one, survives a
 * worker SIGKILLed mid-backup, and the window payload `backup+patch` runs it end to end.
 * Demo dossiers (registry/demo.ts): 0001 supervisor, 0002 template, 0003 copy, 0004 test, 0006 specific.
 */

jest.setTimeout(300_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
const children: ChildProcess[] = [];
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await temporal?.close();
});

interface Item {
  code: string;
  status: string;
  from_level: number;
  to_level: number;
  applied: number[];
  failure_type: string | null;
  error: string | null;
  restore_point: string | null;
  restore_point_state: string | null;
}

async function items(pool: pg.Pool, runId: number): Promise<Record<string, Item>> {
  const { rows } = await pool.query<Item>(
    `SELECT code, status, from_level, to_level, applied, failure_type, error, restore_point, restore_point_state
       FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code`,
    [runId],
  );
  return Object.fromEntries(rows.map((r) => [r.code, r]));
}

async function applyLog(pool: pg.Pool, code: string): Promise<number[]> {
  const table = qualified(schemaNameFor(code), 'applylog');
  if (!(await pool.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [table])).rows[0]!.ok) return [];
  return (await pool.query<{ n: number }>(`SELECT n FROM ${table} ORDER BY n`)).rows.map((r) => r.n);
}

interface GenerationRow {
  id: string;
  code: string;
  kind: string;
  reason: string;
  file: string;
  patch_level: number;
  verify_state: string;
  snapshot_at: Date;
}

async function restorePointGenerations(pool: pg.Pool): Promise<GenerationRow[]> {
  return (
    await pool.query<GenerationRow>(
      `SELECT id, code, kind, reason, file, patch_level, verify_state, snapshot_at FROM nightshift.backup_generation WHERE reason = 'restore-point' ORDER BY code, id`,
    )
  ).rows;
}

/** Every restore point of the run: its generation taken at the level the run found, verified, leased, before the dossier's first patch. */
async function expectRestorePointsBeforePatches(pool: pg.Pool, runId: number, it: Record<string, Item>, codes: string[]): Promise<void> {
  for (const code of codes) {
    const item = it[code]!;
    expect({ code, rp: item.restore_point }).toEqual({ code, rp: expect.any(String) });
    const g = (
      await pool.query<GenerationRow & { lease: Date | null }>(
        `SELECT g.id, g.code, g.kind, g.reason, g.file, g.patch_level, g.verify_state, g.snapshot_at,
                (SELECT expires_at FROM nightshift.backup_generation_lease l WHERE l.generation_id = g.id AND l.holder = $2) AS lease
           FROM nightshift.backup_generation g WHERE g.id = $1`,
        [item.restore_point, restorePointHolder(runId)],
      )
    ).rows[0]!;
    expect(g).toMatchObject({ code, verify_state: 'ok', patch_level: item.from_level });
    // the lease keeps it from retention's prune for RESTORE_POINT_LEASE_SECONDS (30 days)
    expect(g.lease!.getTime()).toBeGreaterThan(Date.now() + (RESTORE_POINT_LEASE_SECONDS - 3600) * 1000);
    // the archive holds the dossier before the run's patches: its level, and no table the patches create
    const v = await verifyArchive(g.file);
    expect([v.code, v.patchLevel]).toEqual([code, item.from_level]);
    expect(v.tables.map((t) => t.name)).not.toContain('applylog');
    const firstPatch = (await pool.query<{ at: Date }>(`SELECT min(applied_at) AS at FROM ${qualified(schemaNameFor(code), 'apatch')}`)).rows[0]!.at;
    expect(g.snapshot_at.getTime()).toBeLessThanOrEqual(firstPatch.getTime());
  }
}

test('R-PI-11 R-BK-10: restore points taken before patching, reused when unmodified since a verified generation, in the ledger; none where nothing changes; a dossier whose restore point fails is not patched, and `patch retry` takes its restore point before patching it', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 7);
    const dir = path.join(stack.config.backupDir, 'patches', 'rp');
    fs.mkdirSync(dir, { recursive: true });
    await blockablePatches(dir, [1, 2, 3]);
    // 0003: a verified generation, unmodified since: reused; 0005: a generation never verified: a new one is taken
    const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
    const verified = await backup.backupDossier({ target: 'main', code: 'DEMO0003', reason: 'manual' });
    await markGenerationVerified(pool, verified.generationId!, { state: 'ok', error: null, restored: false });
    await backup.backupDossier({ target: 'main', code: 'DEMO0005', reason: 'manual' });
    // 0007 already at the run's level (no ledger row, level 3): the run does not touch it, no restore point
    await pool.query(`UPDATE nightshift.dossier SET patch_level = 3 WHERE code = 'DEMO0007'`);
    // 0002 held open by a user: its backup is refused (R-BK-3), so it is not patched
    const closeSession = await openSession(pool, 'DEMO0002');
    await markAllBackedUp(pool);
    await openWindow(pool);

    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const result = await worker.runUntil(runPatch(temporal.client, stack, { mode: 'integrate', dir, restorePoints: true }));

    expect(result).toMatchObject({ state: 'partial', failed: 1, restorePoints: { taken: 4, reused: 1, failed: 1 } });
    expect(result.failures).toEqual([{ code: 'DEMO0002', status: 'failed', error: expect.stringMatching(/^restore point failed: Echec du traitement\. Les données concernées sont utilisées/) }]);
    expect(result.notes).toContain('restore points: 4 taken, 1 reused, 1 failed (R-PI-11)');
    expect((await pool.query('SELECT restore_points FROM nightshift.patch_run WHERE id = $1', [result.runId])).rows).toEqual([{ restore_points: true }]);

    const it = await items(pool, result.runId!);
    const patched = ['DEMO0001', 'DEMO0003', 'DEMO0004', 'DEMO0005', 'DEMO0006'];
    await expectRestorePointsBeforePatches(pool, result.runId!, it, patched);
    expect(it.DEMO0003).toMatchObject({ status: 'ok', restore_point: String(verified.generationId), restore_point_state: 'reused' });
    for (const code of ['DEMO0001', 'DEMO0004', 'DEMO0005', 'DEMO0006']) expect({ code, ...it[code] }).toMatchObject({ code, status: 'ok', restore_point_state: 'taken', applied: [1, 2, 3] });
    expect(it.DEMO0002).toMatchObject({ status: 'failed', failure_type: FailureType.RestorePointFailed, restore_point: null, restore_point_state: 'failed', applied: [], to_level: 0 });
    expect(it.DEMO0007).toMatchObject({ status: 'ok', restore_point: null, restore_point_state: null, applied: [] });
    // one new restore-point generation per dossier taken (0005's unverified manual backup was not reused)
    expect((await restorePointGenerations(pool)).map((g) => [g.code, g.kind])).toEqual(['DEMO0001', 'DEMO0004', 'DEMO0005', 'DEMO0006'].map((c) => [c, 'normal']));

    for (const code of patched) expect({ code, log: await applyLog(pool, code) }).toEqual({ code, log: [1, 2, 3] });
    expect(await applyLog(pool, 'DEMO0002')).toEqual([]);
    expect(await levels(pool)).toEqual({ ...Object.fromEntries(codes.map((c) => [c, 3])), DEMO0002: 0 });
    // R-BK-10: the restore point is a backup, yet every patched dossier counts as modified afterwards
    expect(await modifiedSinceBackup(pool)).toEqual({ ...Object.fromEntries(codes.map((c) => [c, patched.includes(c)])) });

    // the user leaves; `patch retry` of a run with restore points takes the failed dossier's before patching it
    await closeSession();
    const retryWorker = await createTestWorker(stack, temporal.nativeConnection);
    const retry = await retryWorker.runUntil(runPatch(temporal.client, stack, { mode: 'retry', retryOf: result.runId! }));
    expect(retry).toMatchObject({ state: 'completed', restorePoints: { taken: 1, reused: 0, failed: 0 } });
    const again = await items(pool, retry.runId!);
    await expectRestorePointsBeforePatches(pool, retry.runId!, again, ['DEMO0002']);
    expect(again.DEMO0002).toMatchObject({ status: 'ok', restore_point_state: 'taken', applied: [1, 2, 3] });
    expect(await applyLog(pool, 'DEMO0002')).toEqual([1, 2, 3]);
  } finally {
    await stack.close();
  }
});

test('R-PI-11 R-PI-3: the backup folder unusable: the supervisor gets no restore point, so it is not patched and no other dossier is touched', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 3);
    const dir = path.join(stack.config.backupDir, 'patches', 'nofolder');
    fs.mkdirSync(dir, { recursive: true });
    await blockablePatches(dir, [1, 2]);
    // the R-BK-9 folder below a plain file: no archive can be written there
    const file = path.join(stack.dataDir, 'not-a-folder');
    fs.writeFileSync(file, 'x');
    await setCommonBackupSetting(pool, 'folder', path.join(file, 'sauve'));
    await openWindow(pool);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const err = await worker.runUntil(runPatch(temporal.client, stack, { mode: 'integrate', dir, restorePoints: true }).then(() => undefined, (e: unknown) => e));
    expect(failureTypeOf(err)).toBe(PatchFailure.SupervisorFailed);
    let message = '';
    for (let e: unknown = err; e instanceof Error; e = e.cause) message = e.message;
    expect(message).toMatch(/the supervisor DEMO0001 failed, no other dossier was touched: restore point failed: /);
    expect(Object.values(await levels(pool))).toEqual([0, 0, 0]);
    expect(await applyLog(pool, 'DEMO0001')).toEqual([]);
    const { rows } = await pool.query(`SELECT code, status, failure_type, restore_point, restore_point_state FROM nightshift.patch_run_item ORDER BY code`);
    expect(rows).toEqual([{ code: 'DEMO0001', status: 'failed', failure_type: FailureType.RestorePointFailed, restore_point: null, restore_point_state: 'failed' }]);
  } finally {
    await stack.close();
  }
});

test('R-PI-11: a worker killed after its restore-point backup completed but before the ledger named it: the retry adopts that generation (verified now), never a second one', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 2);
    const dir = path.join(stack.config.backupDir, 'patches', 'adopt');
    fs.mkdirSync(dir, { recursive: true });
    await blockablePatches(dir, [1]);
    await storePatchPackages(pool, await readPatchDirectory(dir), dir);
    const patches = await loadStoredPatches(pool);
    const runId = await insertRun(pool, { workflowId: `patch/main/adopt-${crypto.randomUUID()}`, mode: 'integrate', ok: true, prerequisites: [], error: null });
    await openItems(pool, runId, ['DEMO0002']);
    // the killed attempt: 'taking' recorded, its backup complete (a generation row, not verified), then the kill
    expect(await markRestorePointTaking(pool, runId, 'DEMO0002')).toBe(true);
    const killed = await backupDossierArchive({
      pool,
      target: 'main',
      code: 'DEMO0002',
      destinationDir: stack.config.backupDir,
      generation: { kindRoot: stack.config.backupDir, kind: 'normal', runId: null, reason: RESTORE_POINT_REASON },
    });
    const [row] = await patchDossiersByCode(pool, ['DEMO0002']);
    const dossier = { code: row!.code, role: row!.role, test: row!.is_test, specific: row!.is_specific, schemaName: row!.schema_name, patchLevel: row!.patch_level };
    const deps = { config: stack.config, pool, target: 'main', runId };

    expect(await ensureRestorePoint(deps, dossier, patches)).toEqual({ kind: 'taken', generationId: killed.generationId });
    expect((await restorePointGenerations(pool)).map((g) => [g.id, g.verify_state])).toEqual([[String(killed.generationId), 'ok']]);
    // the next retry finds it in the ledger and goes straight to the patches
    expect(await ensureRestorePoint(deps, dossier, patches)).toEqual({ kind: 'recorded', generationId: killed.generationId });
    expect(await restorePointGenerations(pool)).toHaveLength(1);
    const it = await items(pool, runId);
    expect(it.DEMO0002).toMatchObject({ status: 'pending', restore_point: String(killed.generationId), restore_point_state: 'taken' });
  } finally {
    await stack.close();
  }
});

async function startWorkerProcess(stack: TestStack): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'test/workflows/fixtures/backup-batch-worker.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      NIGHTSHIFT_DATA_DIR: stack.dataDir,
      TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      NIGHTSHIFT_METRICS_PORT: String(await freePort()),
      NIGHTSHIFT_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the worker to start', () => (out.includes('worker ready') ? true : child.exitCode !== null ? Promise.reject(new Error(out)) : undefined), 90_000);
  return child;
}

test('R-PI-11 R-PI-8: the only worker SIGKILLed during a restore-point backup; the run finishes when a worker returns, one restore point and one application of each patch per dossier', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    // big enough that a backup and its verification take a while: the kill lands inside one
    const codes = await generateDemoDossiers(pool, { target: 'main', count: 6, sizeKb: 4000 });
    await openWindow(pool);
    const dir = path.join(stack.config.backupDir, 'patches', 'crash');
    fs.mkdirSync(dir, { recursive: true });
    await blockablePatches(dir, [1, 2, 3]);
    const first = await startWorkerProcess(stack);
    const handle = await startRun(temporal.client, stack, { mode: 'integrate', dir, restorePoints: true, tuning: { chunkSize: 3, concurrency: 1 } });
    // the second dossier's restore point under way (the supervisor's went first, alone)
    const taking = await waitFor(
      'a restore-point backup under way',
      async () => {
        const { rows } = await pool.query<{ code: string }>(`SELECT code FROM nightshift.patch_run_item WHERE restore_point_state = 'taking' AND code <> 'DEMO0001'`);
        return rows[0]?.code;
      },
      120_000,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = (await pool.query<{ code: string; n: number }>(`SELECT code, count(*)::int AS n FROM nightshift.backup_generation WHERE reason = 'restore-point' GROUP BY code`)).rows;
    console.log(`killed during ${taking}'s restore point; restore-point generations then: ${JSON.stringify(atKill)}`);
    expect(await applyLog(pool, taking)).toEqual([]);

    // the worker returns
    const second = await startWorkerProcess(stack);
    const result = (await handle.result()) as PatchRunResult;
    expect(result).toMatchObject({ state: 'completed', done: codes.length, failed: 0, restorePoints: { taken: codes.length, reused: 0, failed: 0 } });
    const it = await items(pool, result.runId!);
    await expectRestorePointsBeforePatches(pool, result.runId!, it, codes);
    // exactly one restore-point generation per dossier, and it is the one the ledger names
    const gens = await restorePointGenerations(pool);
    expect(gens.map((g) => g.code)).toEqual(codes);
    for (const g of gens) expect(it[g.code]).toMatchObject({ restore_point: g.id, restore_point_state: 'taken', status: 'ok', applied: [1, 2, 3] });
    for (const code of codes) expect({ code, log: await applyLog(pool, code) }).toEqual({ code, log: [1, 2, 3] });
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  } finally {
    await stack.close();
  }
});

test('R-MW-9 R-PI-11 R-BK-10: a deployment window with payload backup+patch takes the restore points, patches, gives access back; the patched dossiers count as modified', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 5);
    const dir = path.join(stack.config.backupDir, 'patches', 'window');
    fs.mkdirSync(dir, { recursive: true });
    await blockablePatches(dir, [1, 2]);
    await markAllBackedUp(pool);
    const start = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    const input: MaintenanceWindowInput = {
      target: 'main',
      type: 'deployment',
      startsAt: new Date(start).toISOString(),
      endsAt: new Date(start + 30 * 60_000).toISOString(),
      payload: { kind: 'backup+patch', manifest: dir },
      graceSeconds: 1,
      startWhenDrained: false,
      dbDrain: false,
      notify: [],
    };
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const window = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `backup+patch window ${crypto.randomUUID()}` });
      return (await h.result()) as MaintenanceWindowResult;
    });
    expect(window.status.state).toBe('completed');
    expect(window.status.payload).toEqual({ kind: 'backup+patch', manifest: dir });
    expect(window.status.payloadRun).toMatchObject({ kind: 'patch', state: 'completed' });
    const run = (await pool.query<{ id: string; restore_points: boolean; window_workflow: string }>('SELECT id, restore_points, window_workflow FROM nightshift.patch_run')).rows;
    expect(run).toEqual([{ id: window.status.payloadRun!.runId, restore_points: true, window_workflow: expect.stringMatching(/^maintenance\/main/) }]);
    const it = await items(pool, Number(run[0]!.id));
    await expectRestorePointsBeforePatches(pool, Number(run[0]!.id), it, codes);
    expect(await levels(pool)).toEqual(Object.fromEntries(codes.map((c) => [c, 2])));
    // R-BK-10: each dossier was backed up (its restore point) and then patched: modified for the next batch
    expect(await modifiedSinceBackup(pool)).toEqual(Object.fromEntries(codes.map((c) => [c, true])));
    expect((await pool.query('SELECT state FROM nightshift.maintenance_window')).rows).toEqual([{ state: 'completed' }]);
  } finally {
    await stack.close();
  }
});

test('R-MW-9 R-PI-11: maintenance schedule --payload backup+patch --patch-dir DIR is the window payload backup+patch; without the directory it is refused', () => {
  const flags = { target: 'main', duration: '45m', type: 'deployment', payload: 'backup+patch', patchDir: '/srv/patches/2026-12' };
  expect(scheduleInput(flags, Date.now()).input.payload).toEqual({ kind: 'backup+patch', manifest: '/srv/patches/2026-12' });
  expect(() => scheduleInput({ ...flags, patchDir: undefined }, Date.now())).toThrow(/--payload backup\+patch needs --patch-dir DIR/);
});

test('R-PI-11 R-PI-6 R-PI-8: which dossiers get a restore point: a pending patch that applies to them; none at level, with only not-applicable patches, or refused at the first', () => {
  const patch = (number: number, type: StoredPatch['type'] = 'standard'): StoredPatch => ({ number, type, checksum: `c${number}`, manifest: { treatments: [], dictionary: [], protectedDictionaryFields: [], structure: [], data: [] } as unknown as StoredPatch['manifest'], files: {} });
  const regular = { code: 'R1', role: 'regular' as const, test: false, specific: false, schemaName: 'd_R1', patchLevel: 0 };
  const supervisor = { ...regular, code: 'S1', role: 'supervisor' as const };
  expect(runChangesDossier(regular, null, [patch(1), patch(2)])).toBe(true);
  // at level: in the ledger, or a level without ledger rows
  expect(runChangesDossier({ ...regular, patchLevel: 2 }, new Map([[1, 'c1'], [2, 'c2']]), [patch(1), patch(2)])).toBe(false);
  expect(runChangesDossier({ ...regular, patchLevel: 2 }, null, [patch(1), patch(2)])).toBe(false);
  // R-PI-6: a supervisor-type patch only writes the ledger of a regular dossier; the supervisor gets it
  expect(runChangesDossier(regular, null, [patch(1, 'supervisor')])).toBe(false);
  expect(runChangesDossier(supervisor, null, [patch(1, 'supervisor')])).toBe(true);
  expect(runChangesDossier(regular, null, [patch(1, 'supervisor'), patch(2)])).toBe(true);
  // R-PI-8: refused at once (checksum drift, a gap): nothing applied, no restore point
  expect(runChangesDossier({ ...regular, patchLevel: 1 }, new Map([[1, 'other']]), [patch(1), patch(2)])).toBe(false);
  expect(runChangesDossier(regular, null, [patch(2)])).toBe(false);
});
