import fs from 'node:fs';
import pg from 'pg';
import path from 'node:path';
import { generateDemoDossiers } from '../../registry/demo';
import { documentsFolder } from '../../registry/documents';
import { createDossier, dossierTableStats, getDossier, listDossiers, type TableStat } from '../../registry/dossiers';
import { createTestStack, type TestStack } from '../helpers/env';

const T = 'main';
let one: TestStack;
let two: TestStack;

beforeAll(async () => {
  [one, two] = await Promise.all([createTestStack(), createTestStack()]);
});
afterAll(async () => {
  await Promise.all([one?.close(), two?.close()]);
});

async function statsOf(s: TestStack, codes: string[]): Promise<Record<string, TableStat[]>> {
  return Object.fromEntries(await Promise.all(codes.map(async (c) => [c, await dossierTableStats(s.pools.get(T), T, c)] as const)));
}

/** Text size of a dossier's rows: what sizeKb approximates. */
async function dataBytes(s: TestStack, code: string): Promise<number> {
  let total = 0;
  for (const table of ['compte', 'journal', 'ecriture', 'ligne', 'parametre']) {
    const { rows } = await s.pools.get(T).query<{ b: string }>(`SELECT coalesce(sum(octet_length(t::text)), 0) AS b FROM "d_${code}".${table} t`);
    total += Number(rows[0]!.b);
  }
  return total;
}

describe('demo dossier generator (registry/demo.ts)', () => {
  let codes: string[];

  beforeAll(async () => {
    const opts = { target: T, count: 10, sizeKb: 8, seed: 7 };
    [codes] = await Promise.all([
      generateDemoDossiers(one.pools.get(T), { ...opts, documentsDir: one.config.documentsDir }),
      generateDemoDossiers(two.pools.get(T), { ...opts, documentsDir: two.config.documentsDir }),
    ]);
  });

  test('returns the codes created, in order, named from the prefix', () => {
    expect(codes).toEqual(Array.from({ length: 10 }, (_, i) => `DEMO${String(i + 1).padStart(4, '0')}`));
  });

  test('deterministic: the same seed in two databases gives the same rows (tableStats) and the same documents', async () => {
    const [a, b] = await Promise.all([statsOf(one, codes), statsOf(two, codes)]);
    expect(a).toEqual(b);
    expect(Object.values(a).every((tables) => tables.length === 5 && tables.every((t) => t.rows > 0))).toBe(true);
    const [la, lb] = await Promise.all([listDossiers(one.pools.get(T)), listDossiers(two.pools.get(T))]);
    const shape = (l: typeof la) => l.map((d) => [d.code, d.label, d.role, d.copyStatus, d.flags]);
    expect(shape(la)).toEqual(shape(lb));
    for (const code of ['DEMO0001', 'DEMO0007']) {
      const da = documentsFolder(one.config.documentsDir, T, code);
      const db = documentsFolder(two.config.documentsDir, T, code);
      const files = fs.readdirSync(da).sort();
      expect(files.length).toBeGreaterThanOrEqual(3);
      expect(files.some((f) => f.endsWith('.txt')) && files.some((f) => f.endsWith('.pdf'))).toBe(true);
      expect(fs.readdirSync(db).sort()).toEqual(files);
      for (const f of files) expect(fs.readFileSync(path.join(db, f)).equals(fs.readFileSync(path.join(da, f)))).toBe(true);
    }
  });

  test('a different seed gives different data', async () => {
    const other = await generateDemoDossiers(two.pools.get(T), { target: T, count: 3, sizeKb: 8, seed: 8, prefix: 'ALT' });
    expect(other).toEqual(['ALT0001', 'ALT0002', 'ALT0003']);
    const [a, b] = await Promise.all([statsOf(one, ['DEMO0003']), statsOf(two, ['ALT0003'])]);
    expect(a.DEMO0003).not.toEqual(b.ALT0003);
    // the chart of accounts' base part and the journals are the firm's standard: only per-dossier data differs
    expect(a.DEMO0003!.find((t) => t.table === 'journal')).toEqual(b.ALT0003!.find((t) => t.table === 'journal'));
  });

  test('flag distribution covers every R-BK-2 case: one supervisor, a template, test, specific, non-transferable, copies', async () => {
    const list = await listDossiers(one.pools.get(T));
    expect(list.filter((d) => d.role === 'supervisor').map((d) => d.code)).toEqual(['DEMO0001']);
    expect(list[0]).toMatchObject({ code: 'DEMO0001', label: 'Dossier de référence', copyStatus: 'original' });
    expect(list.filter((d) => d.flags.template)).toHaveLength(1);
    expect(list.some((d) => d.flags.test)).toBe(true);
    expect(list.some((d) => d.flags.specific)).toBe(true);
    expect(list.some((d) => !d.flags.transferable)).toBe(true);
    expect(list.some((d) => d.copyStatus === 'copy')).toBe(true);
    // and plain regular originals, the bulk a backup batch selects
    expect(list.some((d) => d.role === 'regular' && d.copyStatus === 'original' && !d.flags.test && !d.flags.template && d.flags.transferable)).toBe(true);
    // R-BK-2: never backed up counts as modified
    expect(list.every((d) => d.modifiedSinceBackup && d.lastBackupAt === null)).toBe(true);
    expect(new Set(list.map((d) => d.label)).size).toBeGreaterThan(5);
  });

  test('realistic bookkeeping: plan comptable accounts, AC/VE/BQ/OD journals, balanced entries, parameters as jsonb', async () => {
    const db = one.pools.get(T);
    const accounts = await db.query<{ numero: string }>(`SELECT numero FROM "d_DEMO0005".compte`);
    const numbers = accounts.rows.map((r) => r.numero);
    expect(numbers).toEqual(expect.arrayContaining(['401000', '411000', '512000', '606100', '706000', '445710']));
    const journals = await db.query<{ code: string }>(`SELECT code FROM "d_DEMO0005".journal ORDER BY code`);
    expect(journals.rows.map((r) => r.code)).toEqual(['AC', 'BQ', 'OD', 'VE']);
    const unbalanced = await db.query(`SELECT ecriture_id FROM "d_DEMO0005".ligne GROUP BY 1 HAVING sum(debit) <> sum(credit)`);
    expect(unbalanced.rowCount).toBe(0);
    const orphans = await db.query(`SELECT 1 FROM "d_DEMO0005".ecriture e WHERE NOT EXISTS (SELECT 1 FROM "d_DEMO0005".ligne l WHERE l.ecriture_id = e.id)`);
    expect(orphans.rowCount).toBe(0);
    const societe = await db.query<{ valeur: { raisonSociale: string } }>(`SELECT valeur FROM "d_DEMO0005".parametre WHERE cle = 'societe'`);
    expect(societe.rows[0]!.valeur.raisonSociale).toBe((await getDossier(one.pools.get(T), T, 'DEMO0005')).label);
    // explicit ids: the sequence continues after them, so the application can keep writing
    const next = await db.query(`INSERT INTO "d_DEMO0005".ecriture (journal, date_ecriture, libelle) VALUES ('OD', '2024-12-31', 'Test') RETURNING id`);
    expect(Number(next.rows[0].id)).toBeGreaterThan(1);
    const triggers = await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'nightshift_touch' AND tgrelid::regclass::text LIKE '"d_DEMO0005".%'`);
    expect(triggers.rows[0].n).toBe(5);
  });

  test('sizeKb is roughly honoured (within 2x) and scales the number of entries', async () => {
    const codesBig = await generateDemoDossiers(one.pools.get(T), { target: T, count: 2, sizeKb: 64, prefix: 'BIG' });
    const small = await dataBytes(one, 'DEMO0006');
    const big = await dataBytes(one, codesBig[1]!);
    expect(small).toBeGreaterThan(4 * 1024);
    expect(small).toBeLessThan(16 * 1024);
    expect(big).toBeGreaterThan(32 * 1024);
    expect(big).toBeLessThan(128 * 1024);
  });

  test('a second run continues the numbering and creates no second supervisor', async () => {
    const more = await generateDemoDossiers(one.pools.get(T), { target: T, count: 2, sizeKb: 2, seed: 7 });
    expect(more).toEqual(['DEMO0011', 'DEMO0012']);
    const list = await listDossiers(one.pools.get(T));
    expect(list.filter((d) => d.role === 'supervisor')).toHaveLength(1);
  });

  test('a second run keeps the width of the codes before it (drill S: DEMO1000 was followed by DEMO01001, DEMO0100 sorted between DEMO01009 and DEMO0101)', async () => {
    await createDossier(one.pools.get(T), T, { code: 'WID07', label: 'two digits', role: 'regular' });
    expect(await generateDemoDossiers(one.pools.get(T), { target: T, count: 2, sizeKb: 1, seed: 7, prefix: 'WID' })).toEqual(['WID08', 'WID09']);
    // past the width, the numbers just grow (WID10), no padding added
    expect(await generateDemoDossiers(one.pools.get(T), { target: T, count: 1, sizeKb: 1, seed: 7, prefix: 'WID' })).toEqual(['WID10']);
    // a first run pads to 4 digits, or to its last code's
    expect(await generateDemoDossiers(one.pools.get(T), { target: T, count: 1, sizeKb: 1, seed: 7, prefix: 'NEW' })).toEqual(['NEW0001']);
  });

  test('each lane replaces its connection after so many dossiers (a backend keeps the catalog caches of every schema it created: drill S, 75/s fell to 3/s in one run of 9,000), and progress is told after each transaction', async () => {
    const pool = new pg.Pool({ connectionString: one.databaseUrl, max: 3 });
    const connect = pool.connect.bind(pool) as (...args: unknown[]) => Promise<pg.PoolClient>;
    let connects = 0;
    // the lanes' checkouts (pool.query checks out with a callback: not counted)
    pool.connect = ((...args: unknown[]) => {
      if (!args.length) connects++;
      return connect(...args);
    }) as typeof pool.connect;
    const seen: [number, number][] = [];
    try {
      // 150 dossiers of 1 KB: 6 transactions of 25 over 3 lanes; a connection serves 25 dossiers, then the next is new
      const codes = await generateDemoDossiers(pool, { target: T, count: 150, sizeKb: 1, seed: 5, prefix: 'RECYC', dossiersPerConnection: 25, onProgress: (d, t) => seen.push([d, t]) });
      expect(codes).toHaveLength(150);
      expect(connects).toBe(6);
      expect(seen.map(([d]) => d)).toEqual([25, 50, 75, 100, 125, 150]);
      expect(seen.every(([, t]) => t === 150)).toBe(true);
      // every connection given back or closed: none left checked out
      expect(pool.totalCount - pool.idleCount).toBe(0);
    } finally {
      await pool.end();
    }
  });

  test('bad options are refused as InvalidInput, nothing created', async () => {
    const before = (await listDossiers(one.pools.get(T))).length;
    for (const bad of [{ count: 0 }, { count: 1.5 }, { prefix: '../x' }, { prefix: "a'b" }, { prefix: '_x' }, { sizeKb: -1 }, { target: '../etc' }]) {
      await expect(generateDemoDossiers(one.pools.get(T), { target: T, count: 1, ...bad })).rejects.toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    }
    expect((await listDossiers(one.pools.get(T))).length).toBe(before);
  });
});

test('dossiers demo of large dossiers (drill finding): building one takes the thread for a while, and no other lane\'s connection attempt times out meanwhile', async () => {
  // a pool that gives up connecting quickly stands for the CLI's 5 s against 60 MB dossiers
  const pool = new pg.Pool({ connectionString: one.databaseUrl, connectionTimeoutMillis: 150, max: 3 });
  try {
    const started = process.hrtime.bigint();
    const codes = await generateDemoDossiers(pool, { target: T, count: 3, sizeKb: 6000, seed: 3, prefix: 'HUGE' });
    console.log(`3 demo dossiers of 6 MB in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(1)} s`);
    expect(codes).toEqual(['HUGE0001', 'HUGE0002', 'HUGE0003']);
    for (const code of codes) expect(await getDossier(one.pools.get(T), T, code)).toMatchObject({ code });
  } finally {
    await pool.end();
  }
}, 180_000);
