import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRegistryActivities } from '../../activities/registry';
import { documentsFolder } from '../../registry/documents';
import { DOSSIER_IN_USE_MESSAGE } from '../../domain/failures';
import { loadConfig } from '../../config/config';
import { createTargetPools } from '../../workers/resources';
import { createTestStack, type TestStack } from '../helpers/env';
import { HOSTILE_CODES } from '../domain/hostile-codes';

let stack: TestStack;
let registry: ReturnType<typeof createRegistryActivities>;
const T = 'main';

beforeAll(async () => {
  stack = await createTestStack();
  registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
});
afterAll(async () => {
  await stack.close();
});

const db = () => stack.pools.get(T);

async function snapshot(): Promise<{ dossiers: string[]; schemas: string[] }> {
  const d = await db().query<{ code: string }>('SELECT code FROM nightshift.dossier ORDER BY code');
  const s = await db().query<{ nspname: string }>('SELECT nspname FROM pg_namespace ORDER BY nspname');
  return { dossiers: d.rows.map((r) => r.code), schemas: s.rows.map((r) => r.nspname) };
}

async function simulateBackup(codes: string[]): Promise<void> {
  await db().query('UPDATE nightshift.dossier SET backup_seq = change_seq, last_backup_at = now() WHERE code = ANY($1)', [codes]);
}

async function modified(code: string): Promise<boolean> {
  return (await registry.getDossier(T, code)).modifiedSinceBackup;
}

describe('dossier registry (activities/registry.ts)', () => {
  test.each(HOSTILE_CODES)('createDossier refuses a hostile code (%s) as InvalidInput, non-retryable, creating nothing', async (_name, code) => {
    const before = await snapshot();
    await expect(registry.createDossier(T, { code, label: 'Hostile' })).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    await expect(registry.getDossier(T, code)).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    await expect(registry.deleteDossier(T, code)).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect(await snapshot()).toEqual(before);
  });

  test('createDossier creates the schema with the base structure and the documented defaults', async () => {
    const d = await registry.createDossier(T, { code: 'REG_A', label: 'Garage Martin SARL' });
    expect(d).toMatchObject({
      code: 'REG_A',
      label: 'Garage Martin SARL',
      role: 'regular',
      copyStatus: 'original',
      flags: { test: false, specific: false, template: false, transferable: true },
      schemaName: 'd_REG_A',
      lastBackupAt: null,
      patchLevel: 0,
      modifiedSinceBackup: true, // R-BK-2: never backed up counts as modified
    });
    const stats = await registry.tableStats(T, 'REG_A');
    expect(stats.map((s) => s.table)).toEqual(['compte', 'ecriture', 'journal', 'ligne', 'parametre']);
    expect(stats.every((s) => s.rows === 0 && s.checksum === '0')).toBe(true);
    const fks = await db().query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE connamespace = '"d_REG_A"'::regnamespace AND contype = 'f' ORDER BY conname`,
    );
    expect(fks.rows.map((r) => r.conname)).toEqual(['ecriture_journal_fkey', 'ligne_compte_fkey', 'ligne_ecriture_id_fkey']);
  });

  test('exactly one supervisor per target: a second one is refused with SupervisorConflict', async () => {
    await registry.createDossier(T, { code: 'SUP1', label: 'Dossier de référence', role: 'supervisor' });
    const before = await snapshot();
    await expect(registry.createDossier(T, { code: 'SUP2', label: 'Autre', role: 'supervisor' })).rejects.toMatchObject({
      type: 'SupervisorConflict',
      nonRetryable: true,
    });
    expect(await snapshot()).toEqual(before);
    expect((await registry.listDossiers(T))[0]).toMatchObject({ code: 'SUP1', role: 'supervisor' });
  });

  test('a duplicate code is refused, also when it differs only by case (B{code}.SVG on case-insensitive disks)', async () => {
    await registry.createDossier(T, { code: 'DupCode', label: 'Premier' });
    const before = await snapshot();
    for (const code of ['DupCode', 'DUPCODE', 'dupcode']) {
      await expect(registry.createDossier(T, { code, label: 'Second' })).rejects.toMatchObject({ type: 'DossierExists', nonRetryable: true });
    }
    expect(await snapshot()).toEqual(before);
  });

  test('concurrent creates of one code: one wins, the other gets DossierExists (not a retryable error)', async () => {
    const results = await Promise.allSettled([
      registry.createDossier(T, { code: 'RACE', label: 'Un' }),
      registry.createDossier(T, { code: 'race', label: 'Deux' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected?.reason).toMatchObject({ type: 'DossierExists', nonRetryable: true });
  });

  test('R-BK-2/R-BK-10: after a backup, a write to any table of a dossier makes it modified again; another dossier stays unmodified', async () => {
    await registry.createDossier(T, { code: 'TRIG_A', label: 'A' });
    await registry.createDossier(T, { code: 'TRIG_B', label: 'B' });
    const writes = [
      `INSERT INTO "d_TRIG_A".compte VALUES ('512000', 'Banque', 'A'), ('706000', 'Prestations de services', 'R')`,
      `INSERT INTO "d_TRIG_A".journal VALUES ('VE', 'Ventes', 'vente')`,
      `INSERT INTO "d_TRIG_A".ecriture (journal, date_ecriture, libelle, created_at) VALUES ('VE', '2024-01-02', 'Facture', '2024-01-02T10:00:00Z')`,
      `INSERT INTO "d_TRIG_A".ligne VALUES (1, 1, '512000', 10, 0), (1, 2, '706000', 0, 10)`,
      `INSERT INTO "d_TRIG_A".parametre VALUES ('devise', '{"code":"EUR"}')`,
      `UPDATE "d_TRIG_A".compte SET libelle = 'Banque CA' WHERE numero = '512000'`,
      `DELETE FROM "d_TRIG_A".parametre`,
      `TRUNCATE "d_TRIG_A".ligne`,
    ];
    for (const sql of writes) {
      await simulateBackup(['TRIG_A', 'TRIG_B']);
      expect([await modified('TRIG_A'), await modified('TRIG_B')]).toEqual([false, false]);
      const before = await registry.getDossier(T, 'TRIG_A');
      await db().query(sql);
      const after = await registry.getDossier(T, 'TRIG_A');
      expect({ sql, modified: after.modifiedSinceBackup }).toEqual({ sql, modified: true });
      expect(Date.parse(after.modifiedAt)).toBeGreaterThanOrEqual(Date.parse(before.modifiedAt));
      expect(await modified('TRIG_B')).toBe(false);
    }
  });

  test('R-BK-10: the touch trigger finds its dossier by the registry\'s index, never by reading every dossier (migration 0020)', async () => {
    await registry.createDossier(T, { code: 'TRIG_IX', label: 'index' });
    const client = await db().connect();
    const plans: string[] = [];
    const onNotice = (n: { message?: string }) => plans.push(n.message ?? '');
    client.on('notice', onNotice);
    try {
      // auto_explain prints the plan of the trigger's own UPDATE (a nested statement) to this session
      await client.query("LOAD 'auto_explain'");
      await client.query("SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET client_min_messages = log");
      // planned as it would be with 100,000 dossiers: the sequential scan made as costly as it is there
      await client.query('SET enable_seqscan = off');
      await client.query(`INSERT INTO "d_TRIG_IX".parametre VALUES ('devise', '{"code":"EUR"}')`);
    } finally {
      client.off('notice', onNotice);
      await client.query('RESET ALL').catch(() => undefined);
      client.release(true);
    }
    const touch = plans.find((p) => /Update on dossier/.test(p));
    expect(touch).toBeDefined();
    expect(touch).toMatch(/Index (Only )?Scan using dossier_schema_name_key on dossier/);
    expect(touch).not.toMatch(/Seq Scan on dossier/);
  });

  test('R-BK-3/R-SE-2: delete is refused with DossierInUse while a live session holds the dossier; allowed once it is closed', async () => {
    await registry.createDossier(T, { code: 'INUSE', label: 'Ouvert' });
    const docs = documentsFolder(stack.config.documentsDir, T, 'INUSE');
    fs.mkdirSync(docs, { recursive: true });
    fs.writeFileSync(path.join(docs, 'facture.txt'), 'x');
    const session = crypto.randomUUID();
    await db().query(
      `INSERT INTO nightshift.session (id, user_name, token_hash, expires_at) VALUES ($1, 'marie', 'h', now() + interval '1 hour')`,
      [session],
    );
    await db().query('INSERT INTO nightshift.session_dossier (session_id, dossier_code) VALUES ($1, $2)', [session, 'INUSE']);
    const before = await snapshot();
    await expect(registry.deleteDossier(T, 'INUSE')).rejects.toMatchObject({
      type: 'DossierInUse',
      nonRetryable: true,
      message: DOSSIER_IN_USE_MESSAGE,
    });
    expect(await snapshot()).toEqual(before);
    expect(fs.existsSync(path.join(docs, 'facture.txt'))).toBe(true);

    await db().query('UPDATE nightshift.session SET closed_at = now() WHERE id = $1', [session]);
    await registry.deleteDossier(T, 'INUSE');
    const after = await snapshot();
    expect(after.dossiers).not.toContain('INUSE');
    expect(after.schemas).not.toContain('d_INUSE');
    expect(fs.existsSync(docs)).toBe(false);
  });

  test('unknown dossier: UnknownDossier, non-retryable', async () => {
    await expect(registry.getDossier(T, 'NOPE')).rejects.toMatchObject({ type: 'UnknownDossier', nonRetryable: true });
    await expect(registry.deleteDossier(T, 'NOPE')).rejects.toMatchObject({ type: 'UnknownDossier', nonRetryable: true });
    await expect(registry.tableStats(T, 'NOPE')).rejects.toMatchObject({ type: 'UnknownDossier', nonRetryable: true });
  });

  test('an unknown target is refused as UnknownTarget', async () => {
    await expect(registry.listDossiers('other')).rejects.toMatchObject({ type: 'UnknownTarget', nonRetryable: true });
  });
});

test('tableStats does not depend on the session time zone (checksums compare across processes and servers)', async () => {
  await registry.createDossier(T, { code: 'TZ', label: 'Fuseau' });
  await db().query(`INSERT INTO "d_TZ".journal VALUES ('OD', 'Opérations diverses', 'divers')`);
  await db().query(`INSERT INTO "d_TZ".ecriture (journal, date_ecriture, libelle, created_at) VALUES ('OD', '2024-06-30', 'x', '2024-06-30T23:30:00Z')`);
  const url = new URL(stack.databaseUrl);
  url.searchParams.set('options', '-c TimeZone=Pacific/Kiritimati');
  const elsewhere = loadConfig({ DATABASE_URL: url.toString(), NIGHTSHIFT_DATA_DIR: stack.dataDir });
  const pools = createTargetPools(elsewhere);
  try {
    const shifted = await pools.get(T).query<{ t: string }>(`SELECT created_at::text AS t FROM "d_TZ".ecriture`);
    expect(shifted.rows[0]!.t).toBe('2024-07-01 13:30:00+14'); // the zone really differs in that session
    const other = createRegistryActivities({ config: elsewhere, pools });
    expect(await other.tableStats(T, 'TZ')).toEqual(await registry.tableStats(T, 'TZ'));
  } finally {
    await pools.end();
  }
});
