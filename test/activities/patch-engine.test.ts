import pg from 'pg';
import { generateDemoDossiers } from '../../activities/demo';
import { generateDemoPatches } from '../../activities/patch/demo';
import { readPatchDirectory } from '../../activities/patch/package';
import { patchDossier, type EngineDossier, type StoredPatch } from '../../activities/patch/apply';
import { loadStoredPatches, storePatchPackages } from '../../activities/patch';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { PatchFailure } from '../../workflows/patch-integration.api';
import { createTestDatabase, tempDir } from '../helpers/env';
import { blockablePatches, ledger, markAllBackedUp, modifiedSinceBackup } from '../workflows/patch-helpers';

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
