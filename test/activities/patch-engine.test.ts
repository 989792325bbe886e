import pg from 'pg';
import { MockActivityEnvironment } from '@temporalio/testing';
import { generateDemoDossiers } from '../../registry/demo';
import { generateDemoPatches } from '../../patches/demo';
import { readPatchDirectory, writePatchPackage } from '../../patches/package';
import { patchDossier, type EngineDossier, type StoredPatch } from '../../activities/patch/apply';
import { createPatchActivities, loadStoredPatches, storePatchPackages } from '../../activities/patch';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { PatchFailure, type DossierPatchOutcome } from '../../workflows/patch-integration.api';
import { insertRollbackRun } from '../../store/rollback/insert-run';
import { insertRestoreRun } from '../../store/restore/insert-run';
import { runningPatchWork } from '../../store/backup/running-patch-work';
import { batchBesideWorkText } from '../../domain/backup-batch';
import { createTestDatabase, tempDir } from '../helpers/env';
import { blockablePatches, ledger, levels, markAllBackedUp, modifiedSinceBackup, treatments } from '../workflows/patch-helpers';

/**
 * The per-dossier engine (activities/patch/apply.ts over nightshift.apply_patch) without Temporal:
 * one transaction per patch (R-PI-8), routing, failures, and the touch trigger (R-BK-10).
 */

jest.setTimeout(60_000);

let pool: pg.Pool;
beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await createTestDatabase('engine'), max: 3 });
  await generateDemoDossiers(pool, { target: 'main', count: 6, sizeKb: 2 });
});
afterAll(async () => {
  await pool?.end();
});

async function dossier(code: string): Promise<EngineDossier> {
  const { rows } = await pool.query(`SELECT code, role, is_test, is_specific, schema_name, patch_level FROM nightshift.dossier WHERE code = $1`, [code]);
  const r = rows[0];
  return { code: r.code, role: r.role, test: r.is_test, specific: r.is_specific, schemaName: r.schema_name, patchLevel: r.patch_level };
}

async function stored(dir: string): Promise<StoredPatch[]> {
  await storePatchPackages(pool, await readPatchDirectory(dir), dir);
  return loadStoredPatches(pool);
}

const changeSeq = async (): Promise<number> => Number((await pool.query('SELECT last_value FROM nightshift.change_seq')).rows[0].last_value);

test('R-PI-8 R-PI-6: each pending patch once, in order; supervisor-type patches are recorded as not applicable elsewhere; a re-run applies nothing', async () => {
  const dir = tempDir('engine-patches');
  await generateDemoPatches(dir, 8);
  const patches = await stored(dir);
  const sup = await patchDossier(pool, await dossier('DEMO0001'), patches, 0);
  expect(sup).toMatchObject({ status: 'ok', fromLevel: 0, toLevel: 8, applied: [1, 2, 3, 4, 5, 6, 7, 8] });
  const other = await patchDossier(pool, await dossier('DEMO0003'), patches, 8);
  expect(other).toMatchObject({ status: 'ok', toLevel: 8, applied: [1, 2, 3, 4, 5, 6, 7, 8] });
  expect((await ledger(pool, 'DEMO0003')).map((r) => [r.number, r.outcome])).toEqual([
    [1, 'applied'], [2, 'applied'], [3, 'applied'], [4, 'not-applicable'], [5, 'applied'], [6, 'applied'], [7, 'applied'], [8, 'not-applicable'],
  ]);
  // every table a patch created carries the touch trigger (zpatch_1, zpatch_5 and the engine's own)
  const untouched = await pool.query(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r' AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'nightshift_touch')`,
    [schemaNameFor('DEMO0003')],
  );
  expect(untouched.rows).toEqual([]);
  const again = await patchDossier(pool, await dossier('DEMO0003'), patches, 8);
  expect(again).toMatchObject({ status: 'ok', fromLevel: 8, toLevel: 8, applied: [] });
  expect(await ledger(pool, 'DEMO0003')).toHaveLength(8);
});

/** A fresh database with two demo dossiers and the 8 demo patches stored; `d(level)`: DEMO0002 as a run that read that level sees it. */
async function demoPatchedDatabase(name: string): Promise<{ own: pg.Pool; patches: StoredPatch[]; d: (patchLevel: number) => EngineDossier }> {
  const own = new pg.Pool({ connectionString: await createTestDatabase(name), max: 3 });
  await generateDemoDossiers(own, { target: 'main', count: 2, sizeKb: 2 });
  const dir = tempDir(name);
  await generateDemoPatches(dir, 8);
  await storePatchPackages(own, await readPatchDirectory(dir), dir);
  const row = (await own.query(`SELECT code, role, is_test, is_specific, schema_name FROM nightshift.dossier WHERE code = 'DEMO0002'`)).rows[0];
  const d = (patchLevel: number): EngineDossier => ({ code: row.code, role: row.role, test: row.is_test, specific: row.is_specific, schemaName: row.schema_name, patchLevel });
  return { own, patches: await loadStoredPatches(own), d };
}

test('R-PI-8: a dossier put back to a lower level while the run patches it (a restore, drill R) gets nothing more, and says which patches it would skip', async () => {
  const { own, patches, d } = await demoPatchedDatabase('enginemoved');
  try {
    // the dossier at 1 (as a restore of a level-1 archive leaves it), the run still believing the level it read, 3
    expect(await patchDossier(own, d(0), patches.slice(0, 1), 8)).toMatchObject({ status: 'ok', toLevel: 1 });
    const out = await patchDossier(own, d(3), patches.slice(3), 8);
    expect(out).toMatchObject({ status: 'failed', fromLevel: 3, toLevel: 1, applied: [], failedPatch: 4, failureType: PatchFailure.Gap });
    expect(out.error).toBe(
      'dossier DEMO0002 went back to level 1 while this run patched it (restored meanwhile?): patch 4 would skip 2-3; nothing more applied to it (R-PI-8): bring it up with nightshift patch revalidate DEMO0002',
    );
    // nothing of patch 4 or later: the ledger and the level are the restored ones
    expect((await ledger(own, 'DEMO0002')).map((r) => r.number)).toEqual([1]);
    expect((await own.query(`SELECT patch_level FROM nightshift.dossier WHERE code = 'DEMO0002'`)).rows[0].patch_level).toBe(1);
  } finally {
    await own.end();
  }
});

test('R-PI-8: a patch waiting for the row lock of a dossier that a restore replaces (row deleted, a new one inserted) sees the new level, and applies nothing (re-check of drill R)', async () => {
  const { own, patches, d } = await demoPatchedDatabase('enginereplaced');
  const restore = await own.connect();
  try {
    expect(await patchDossier(own, d(0), patches.slice(0, 3), 8)).toMatchObject({ status: 'ok', toLevel: 3 });
    // the restore's transaction, as archive/engine.ts does it: the row locked, deleted, a new one inserted at the archive's level
    await restore.query('BEGIN');
    await restore.query(`SELECT 1 FROM nightshift.dossier WHERE code = 'DEMO0002' FOR UPDATE`);
    await restore.query(`CREATE TEMP TABLE replaced ON COMMIT DROP AS SELECT * FROM nightshift.dossier WHERE code = 'DEMO0002'`);
    await restore.query(`DELETE FROM nightshift.dossier WHERE code = 'DEMO0002'`);
    await restore.query(`INSERT INTO nightshift.dossier SELECT * FROM replaced`);
    await restore.query(`UPDATE nightshift.dossier SET patch_level = 1 WHERE code = 'DEMO0002'`);
    // the run, at level 3, applies patch 4: its statement waits for the restore's lock
    const patching = patchDossier(own, d(3), patches.slice(3), 8);
    await new Promise((r) => setTimeout(r, 500));
    await restore.query('COMMIT');
    const out = await patching;
    expect(out).toMatchObject({ status: 'failed', toLevel: 1, applied: [], failedPatch: 4, failureType: PatchFailure.Gap });
    expect((await ledger(own, 'DEMO0002')).map((r) => r.number)).toEqual([1, 2, 3]); // nothing of patch 4 on
    expect((await own.query(`SELECT patch_level FROM nightshift.dossier WHERE code = 'DEMO0002'`)).rows[0].patch_level).toBe(1);
  } finally {
    restore.release();
    await own.end();
  }
});

test('R-PI-8: a patch whose SQL tries to end the transaction is refused, named, and leaves nothing of itself', async () => {
  const dir = tempDir('engine-commit');
  await blockablePatches(dir, [1, 2], (n) => (n === 2 ? 'COMMIT;\n' : ''));
  // the demo patches of the first test are stored already under numbers 1..8: a fresh database
  const own = new pg.Pool({ connectionString: await createTestDatabase('enginecommit'), max: 2 });
  try {
    await generateDemoDossiers(own, { target: 'main', count: 3, sizeKb: 2 });
    await storePatchPackages(own, await readPatchDirectory(dir), dir);
    const patches = await loadStoredPatches(own);
    const row = (await own.query(`SELECT code, role, is_test, is_specific, schema_name, patch_level FROM nightshift.dossier WHERE code = 'DEMO0001'`)).rows[0];
    const d: EngineDossier = { code: row.code, role: row.role, test: row.is_test, specific: row.is_specific, schemaName: row.schema_name, patchLevel: 0 };
    const out = await patchDossier(own, d, patches, 0);
    expect(out).toMatchObject({ status: 'failed', toLevel: 1, applied: [1], failedPatch: 2, failureType: PatchFailure.SqlFailed });
    expect(out.error).toMatch(/^patch 2 failed in dossier DEMO0001 \(data\.sql\): .*transaction/);
    // patch 1 committed, patch 2 entirely rolled back (its applylog row included)
    expect((await own.query(`SELECT n FROM ${qualified('d_DEMO0001', 'applylog')} ORDER BY n`)).rows).toEqual([{ n: 1 }]);
    expect((await own.query(`SELECT patch_level FROM nightshift.dossier WHERE code = 'DEMO0001'`)).rows[0].patch_level).toBe(1);
  } finally {
    await own.end();
  }
});

test('R-BK-10: one touch per dossier and transaction, taken again after a rolled-back savepoint', async () => {
  const schema = schemaNameFor('DEMO0005');
  await markAllBackedUp(pool);
  const c = await pool.connect();
  try {
    // two tables written in one transaction: one number from change_seq
    const before = await changeSeq();
    await c.query('BEGIN');
    await c.query(`UPDATE ${qualified(schema, 'parametre')} SET valeur = valeur WHERE cle = 'devise'`);
    await c.query(`UPDATE ${qualified(schema, 'journal')} SET libelle = libelle WHERE code = 'AC'`);
    await c.query('COMMIT');
    expect(await changeSeq()).toBe(before + 1);
    expect((await modifiedSinceBackup(pool)).DEMO0005).toBe(true);

    // a write rolled back with its savepoint does not count; the next write is touched again
    await markAllBackedUp(pool);
    await c.query('BEGIN');
    await c.query('SAVEPOINT s');
    await c.query(`UPDATE ${qualified(schema, 'parametre')} SET valeur = valeur WHERE cle = 'devise'`);
    await c.query('ROLLBACK TO SAVEPOINT s');
    await c.query('COMMIT');
    expect((await modifiedSinceBackup(pool)).DEMO0005).toBe(false);
    await c.query('BEGIN');
    await c.query('SAVEPOINT s');
    await c.query(`UPDATE ${qualified(schema, 'parametre')} SET valeur = valeur WHERE cle = 'devise'`);
    await c.query('ROLLBACK TO SAVEPOINT s');
    await c.query(`UPDATE ${qualified(schema, 'journal')} SET libelle = libelle WHERE code = 'AC'`);
    await c.query('COMMIT');
    expect((await modifiedSinceBackup(pool)).DEMO0005).toBe(true);
    // other dossiers untouched
    expect((await modifiedSinceBackup(pool)).DEMO0006).toBe(false);
  } finally {
    c.release();
  }
});

test('patch run ledger after a crash: a retried chunk records each dossier from its level at the run\'s start and every patch this run applied (10 -> 15, applied 11..15)', async () => {
  const own = new pg.Pool({ connectionString: await createTestDatabase('enginecrash'), max: 3 });
  const acts = createPatchActivities({ config: undefined as never, pools: { names: () => ['main'], get: () => own, end: async () => {} } });
  try {
    await generateDemoDossiers(own, { target: 'main', count: 3, sizeKb: 2 });
    const dir = tempDir('engine-crash');
    // patch 13 fails like a dropped connection (a transient error: the attempt dies) while crash_at_13 exists
    await blockablePatches(dir, Array.from({ length: 15 }, (_, i) => i + 1), (n) =>
      n === 13 ? `DO $$ BEGIN IF to_regclass('public.crash_at_13') IS NOT NULL THEN RAISE EXCEPTION 'simulated crash' USING ERRCODE = '57P01'; END IF; END $$;\n` : '',
    );
    await storePatchPackages(own, await readPatchDirectory(dir), dir);
    const all = await loadStoredPatches(own);
    const engine = async (code: string) => {
      const r = (await own.query(`SELECT code, role, is_test, is_specific, schema_name, patch_level FROM nightshift.dossier WHERE code = $1`, [code])).rows[0];
      return { code: r.code, role: r.role, test: r.is_test, specific: r.is_specific, schemaName: r.schema_name, patchLevel: r.patch_level } as EngineDossier;
    };
    // the run starts with both dossiers at level 10
    for (const code of ['DEMO0001', 'DEMO0002', 'DEMO0003']) await patchDossier(own, await engine(code), all.slice(0, 10), 10);
    const runId = Number(
      (await own.query(`INSERT INTO nightshift.patch_run (workflow_id, mode, state, last_patch) VALUES ('patch/main/crash', 'revalidate', 'running', 15) RETURNING id`)).rows[0].id,
    );
    // the worker dies between DEMO0002's last patch and its ledger row (the write fails once)
    await own.query(`CREATE TABLE public.crash_on_ledger ()`);
    await own.query(`CREATE FUNCTION public.crash_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.status <> 'pending' AND to_regclass('public.crash_on_ledger') IS NOT NULL THEN RAISE EXCEPTION 'simulated crash before the ledger row'; END IF;
        RETURN NEW;
      END $$`);
    await own.query(`CREATE TRIGGER crash_once BEFORE INSERT OR UPDATE ON nightshift.patch_run_item FOR EACH ROW EXECUTE FUNCTION public.crash_once()`);
    const args = { target: 'main', runId, codes: ['DEMO0002', 'DEMO0003'], upTo: 15, supervisorLevel: 15 };
    await expect(new MockActivityEnvironment({ attempt: 1 }).run(acts.applyPatchChunk, args)).rejects.toThrow(/simulated crash before the ledger row/);
    expect((await own.query(`SELECT patch_level FROM nightshift.dossier WHERE code = 'DEMO0002'`)).rows[0].patch_level).toBe(15);
    await own.query(`DROP TABLE public.crash_on_ledger`);

    // second attempt: DEMO0002 is recorded, then DEMO0003 dies half-way (after patches 11 and 12)
    await own.query(`CREATE TABLE public.crash_at_13 ()`);
    const second = new MockActivityEnvironment({ attempt: 2 });
    let beat: unknown;
    second.on('heartbeat', (d: unknown) => (beat = d));
    await expect(second.run(acts.applyPatchChunk, args)).rejects.toThrow(/simulated crash/);
    expect((await own.query(`SELECT patch_level FROM nightshift.dossier WHERE code = 'DEMO0003'`)).rows[0].patch_level).toBe(12);
    await own.query(`DROP TABLE public.crash_at_13`);

    // third attempt resumes from the heartbeat ({current, done, of, resumeAt}: DEMO0002 ended) and finishes
    expect(beat).toMatchObject({ done: 1, of: 2, resumeAt: 1 });
    const third = await new MockActivityEnvironment({ attempt: 3, heartbeatDetails: beat }).run(acts.applyPatchChunk, args);
    expect(third).toMatchObject({ ok: 1, failed: 0, skipped: 1, remaining: [], failures: [] });
    const eleven = [11, 12, 13, 14, 15];
    const { rows } = await own.query('SELECT code, status, from_level, to_level, applied FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code', [runId]);
    expect(rows).toEqual([
      { code: 'DEMO0002', status: 'ok', from_level: 10, to_level: 15, applied: eleven },
      { code: 'DEMO0003', status: 'ok', from_level: 10, to_level: 15, applied: eleven },
    ]);
    // and no patch was applied twice
    for (const code of ['DEMO0002', 'DEMO0003']) {
      expect((await own.query(`SELECT n FROM ${qualified(schemaNameFor(code), 'applylog')} ORDER BY n`)).rows.map((r) => r.n)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    }
  } finally {
    await own.end();
  }
});

// drill M: the worker killed while a patch ran; its statement went on in PostgreSQL and committed while the retry waited
// for the dossier's row lock: the retry had read the level before that commit, so the row said `11 -> 12, applied {}`
test("patch run ledger after a kill mid-patch: the killed attempt's patch, committed while the retry waited for the row lock, is recorded as this run's (3 -> 5, applied 4, 5)", async () => {
  const own = new pg.Pool({ connectionString: await createTestDatabase('enginelate'), max: 4 });
  const acts = createPatchActivities({ config: undefined as never, pools: { names: () => ['main'], get: () => own, end: async () => {} } });
  try {
    await generateDemoDossiers(own, { target: 'main', count: 2, sizeKb: 2 });
    const dir = tempDir('engine-late');
    await blockablePatches(dir, [1, 2, 3, 4, 5], (n) => (n === 4 ? `SELECT pg_sleep(1.5);\n` : ''));
    await storePatchPackages(own, await readPatchDirectory(dir), dir);
    const all = await loadStoredPatches(own);
    const row = (await own.query(`SELECT code, role, is_test, is_specific, schema_name FROM nightshift.dossier WHERE code = 'DEMO0002'`)).rows[0];
    const at = (patchLevel: number): EngineDossier => ({ code: row.code, role: row.role, test: row.is_test, specific: row.is_specific, schemaName: row.schema_name, patchLevel });
    await patchDossier(own, at(0), all.slice(0, 3), 5);
    const runId = Number(
      (await own.query(`INSERT INTO nightshift.patch_run (workflow_id, mode, state, last_patch) VALUES ('patch/main/late', 'revalidate', 'running', 5) RETURNING id`)).rows[0].id,
    );
    // the killed attempt's patch 4, still running in PostgreSQL (its client gone), commits 1.5 s later
    const killed = patchDossier(own, at(3), all.slice(3, 4), 5);
    await new Promise((r) => setTimeout(r, 300));
    const retry = await new MockActivityEnvironment({ attempt: 2 }).run(acts.applyPatchChunk, { target: 'main', runId, codes: ['DEMO0002'], upTo: 5, supervisorLevel: 5 });
    expect(retry).toMatchObject({ ok: 1, failed: 0 });
    expect(await killed).toMatchObject({ status: 'ok', applied: [4] });
    const { rows } = await own.query('SELECT code, status, from_level, to_level, applied FROM nightshift.patch_run_item WHERE run_id = $1', [runId]);
    expect(rows).toEqual([{ code: 'DEMO0002', status: 'ok', from_level: 3, to_level: 5, applied: [4, 5] }]);
    // each patch once
    expect((await own.query(`SELECT n FROM ${qualified(row.schema_name, 'applylog')} ORDER BY n`)).rows.map((r) => r.n)).toEqual([1, 2, 3, 4, 5]);
  } finally {
    await own.end();
  }
});

test('R-PI-5 R-PI-4: a never-patched dossier keeps its own specific treatment (XTRT1) against the first patch that ships one, and the run ledger says why; a regular name is installed', async () => {
  const own = new pg.Pool({ connectionString: await createTestDatabase('enginespecific'), max: 3 });
  const acts = createPatchActivities({ config: undefined as never, pools: { names: () => ['main'], get: () => own, end: async () => {} } });
  try {
    await generateDemoDossiers(own, { target: 'main', count: 6, sizeKb: 2 });
    // the supervisor and the specific dossier DEMO0006 hold treatments of their own, and have no patch ledger yet
    for (const code of ['DEMO0001', 'DEMO0006']) {
      const schema = schemaNameFor(code);
      await own.query(`CREATE TABLE ${qualified(schema, 'traitement')} (name text PRIMARY KEY, body text NOT NULL, checksum text NOT NULL, origin_patch integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
      await own.query(`INSERT INTO ${qualified(schema, 'traitement')} (name, body, checksum, origin_patch) VALUES ('XTRT1', 'own XTRT1 of ' || $1, 'own', 0), ('TRT1', 'old TRT1', 'old', 0)`, [code]);
      expect((await own.query('SELECT to_regclass($1) AS t', [qualified(schema, 'apatch')])).rows[0].t).toBeNull();
    }
    const dir = tempDir('engine-specific');
    await writePatchPackage(
      dir,
      'P0001',
      { number: 1, type: 'standard', description: 'ships XTRT1 and TRT1', treatments: [{ name: 'XTRT1', file: 'x.src' }, { name: 'TRT1', file: 't.src' }], dictionary: [], protectedDictionaryFields: [], structure: [], data: [] },
      { 'x.src': 'patched XTRT1\n', 't.src': 'patched TRT1\n' },
    );
    await storePatchPackages(own, await readPatchDirectory(dir), dir);
    const runId = Number((await own.query(`INSERT INTO nightshift.patch_run (workflow_id, mode, state, last_patch) VALUES ('patch/main/specific', 'integrate', 'running', 1) RETURNING id`)).rows[0].id);
    const env = new MockActivityEnvironment();
    const sup = (await env.run(acts.applySupervisorPatches, { target: 'main', runId, code: 'DEMO0001', upTo: 1, supervisorLevel: 0 })) as DossierPatchOutcome;
    const chunk = await env.run(acts.applyPatchChunk, { target: 'main', runId, codes: ['DEMO0005', 'DEMO0006'], upTo: 1, supervisorLevel: 1 });
    expect([sup.code, sup.status, sup.toLevel]).toEqual(['DEMO0001', 'ok', 1]);
    expect(chunk).toMatchObject({ counts: { ok: 2 }, ok: 2, failed: 0, failures: [] });
    expect(await levels(own)).toMatchObject({ DEMO0001: 1, DEMO0005: 1, DEMO0006: 1 });

    // R-PI-5: the dossiers' own XTRT1 kept; R-PI-4: the supervisor's TRT1 replaced by the patch's
    expect(await treatments(own, 'DEMO0001')).toEqual({ XTRT1: 'own XTRT1 of DEMO0001', TRT1: 'patched TRT1\n' });
    expect(await treatments(own, 'DEMO0006')).toEqual({ XTRT1: 'own XTRT1 of DEMO0006', TRT1: 'old TRT1' });
    // a regular dossier inherits TRT1 from the supervisor, and a specific name does not go to it (R-PI-5)
    expect(await treatments(own, 'DEMO0005')).toEqual({});

    // the run ledger says why, per dossier
    const { rows } = await own.query<{ code: string; notes: string[] }>('SELECT code, notes FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code', [runId]);
    expect(rows).toEqual([
      { code: 'DEMO0001', notes: ['patch 1: treatment XTRT1 kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)'] },
      { code: 'DEMO0005', notes: [] },
      { code: 'DEMO0006', notes: ['patch 1: treatment XTRT1 kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)'] },
    ]);
    expect(sup.notes).toEqual(rows[0]!.notes);
  } finally {
    await own.end();
  }
});

test('R-PI-2: a patch run is refused while a rollback runs (drill R: a retry claimed during a rollback of its run patched what the rollback then restored)', async () => {
  const own = new pg.Pool({ connectionString: await createTestDatabase('engineclaim'), max: 2 });
  try {
    await generateDemoDossiers(own, { target: 'main', count: 2, sizeKb: 2 });
    await own.query(`INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
                     VALUES (gen_random_uuid(), 'maintenance/claim', 'database', 'in_progress', 'working', now() - interval '1 minute', now() + interval '1 hour')`);
    const rollback = await insertRollbackRun(own, { workflowId: 'patch-rollback/main/busy', failedOnly: false, prerequisites: [], error: null });
    const pools = { get: () => own } as unknown as Parameters<typeof createPatchActivities>[0]['pools'];
    const patch = createPatchActivities({ config: {} as Parameters<typeof createPatchActivities>[0]['config'], pools });
    const claim = await patch.claimPatchRun({ target: 'main', workflowId: 'patch/main/while-rollback', mode: 'revalidate' });
    expect(claim.ok).toBe(false);
    expect(claim.prerequisites.find((q) => q.name === 'no rollback')).toEqual({ name: 'no rollback', ok: false, detail: 'rollback patch-rollback/main/busy is running on main' });
    await own.query(`UPDATE nightshift.patch_rollback_run SET state = 'completed', finished_at = now() WHERE id = $1`, [rollback]);
    const after = await patch.claimPatchRun({ target: 'main', workflowId: 'patch/main/after-rollback', mode: 'revalidate' });
    expect(after.prerequisites.find((q) => q.name === 'no rollback')).toMatchObject({ ok: true });
  } finally {
    await own.end();
  }
});

test('R-PI-2: a patch run is refused while a restore run puts dossiers back, and a backup batch is told to wait for it', async () => {
  const own = new pg.Pool({ connectionString: await createTestDatabase('enginerestore'), max: 2 });
  try {
    await generateDemoDossiers(own, { target: 'main', count: 2, sizeKb: 2 });
    await own.query(`INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
                     VALUES (gen_random_uuid(), 'maintenance/claim', 'database', 'in_progress', 'working', now() - interval '1 minute', now() + interval '1 hour')`);
    const restore = await insertRestoreRun(own, { workflowId: 'backup-restore-run/main/busy', at: new Date(), kind: null, replace: false, source: 'auto', prerequisites: [], error: null });
    const pools = { get: () => own } as unknown as Parameters<typeof createPatchActivities>[0]['pools'];
    const patch = createPatchActivities({ config: {} as Parameters<typeof createPatchActivities>[0]['config'], pools });
    const claim = await patch.claimPatchRun({ target: 'main', workflowId: 'patch/main/while-restore', mode: 'revalidate' });
    expect(claim.ok).toBe(false);
    expect(claim.prerequisites.find((q) => q.name === 'no restore run')).toEqual({ name: 'no restore run', ok: false, detail: 'restore run backup-restore-run/main/busy is running on main' });
    const work = await runningPatchWork(own);
    expect(work).toEqual([{ kind: 'restore run', id: String(restore), workflowId: 'backup-restore-run/main/busy' }]);
    expect(batchBesideWorkText(work[0]!, 'main')).toBe(
      `restore run ${restore} (backup-restore-run/main/busy) is running on main: a backup batch starts once it has ended (its dossiers would be archived while they are restored; nothing started. Follow it with 'nightshift backup restore --run ${restore}')`,
    );
    await own.query(`UPDATE nightshift.restore_run SET state = 'completed', finished_at = now() WHERE id = $1`, [restore]);
    const after = await patch.claimPatchRun({ target: 'main', workflowId: 'patch/main/after-restore', mode: 'revalidate' });
    expect(after.prerequisites.find((q) => q.name === 'no restore run')).toMatchObject({ ok: true });
  } finally {
    await own.end();
  }
});

test('drill F2 (session 37): a patch waits for a table another session holds locked only so long (lock_timeout), then the dossier fails saying so; applied once the lock is gone', async () => {
  const own = new pg.Pool({ connectionString: await createTestDatabase('enginelocked'), max: 3 });
  const holder = await own.connect();
  try {
    await generateDemoDossiers(own, { target: 'main', count: 2, sizeKb: 2 });
    const dir = tempDir('engine-locked');
    await blockablePatches(dir, [1, 2]);
    await storePatchPackages(own, await readPatchDirectory(dir), dir);
    const patches = await loadStoredPatches(own);
    const row = (await own.query(`SELECT code, role, is_test, is_specific, schema_name FROM nightshift.dossier WHERE code = 'DEMO0002'`)).rows[0];
    const d = (patchLevel: number): EngineDossier => ({ code: row.code, role: row.role, test: row.is_test, specific: row.is_specific, schemaName: row.schema_name, patchLevel });
    expect(await patchDossier(own, d(0), patches.slice(0, 1), 8)).toMatchObject({ status: 'ok', toLevel: 1 });
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE ${qualified(row.schema_name, 'applylog')} IN ACCESS EXCLUSIVE MODE`);
    const started = Date.now();
    const out = await patchDossier(own, d(1), patches.slice(1), 8, { lockWaitSeconds: 1 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(out).toMatchObject({ status: 'failed', fromLevel: 1, toLevel: 1, failedPatch: 2, failureType: PatchFailure.SqlFailed });
    expect(out.error).toMatch(/^patch 2 failed in dossier DEMO0002 \(.*\): canceling statement due to lock timeout/);
    await holder.query('ROLLBACK');
    expect(await patchDossier(own, d(1), patches.slice(1), 8, { lockWaitSeconds: 1 })).toMatchObject({ status: 'ok', toLevel: 2 });
  } finally {
    holder.release();
    await own.end();
  }
});
