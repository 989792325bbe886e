import fs from 'node:fs';
import { backupDossierArchive } from '../../archive/engine';
import { ident } from '../../db/ident';
import { failureTypeOf, FailureType } from '../../domain/failures';
import { readSchemaCatalog } from '../../store/catalog/read-schema-catalog';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';

/**
 * R-BK-5: the catalog read (one prepared statement, store/catalog/read-schema-catalog.ts) finds every object
 * the format cannot restore exactly, by kind, whatever path it takes through the catalog (issue 13: objects
 * the schema owns are found through pg_depend, indexed, not by scanning pg_proc), and prints definitions
 * with names unqualified while setting search_path itself, so that its cached plan serves every dossier.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

const pool = () => stack.pools.get('main');

/** A registered dossier whose schema holds one table `t (a integer)` and then whatever `extra` creates (`S` is its quoted schema). */
async function dossierWith(code: string, extra: string): Promise<void> {
  const s = ident(`d_${code}`);
  await pool().query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ($1, 'catalogue', $2)`, [code, `d_${code}`]);
  await pool().query(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.t (a integer); ${extra.replaceAll('S.', `${s}.`)}`);
}

const REFUSED: [code: string, extra: string, message: RegExp][] = [
  ['CATFN', `CREATE FUNCTION S.f() RETURNS integer LANGUAGE sql AS 'SELECT 1'`, /cannot back up function f:/],
  ['CATAGG', `CREATE AGGREGATE S.total(integer) (sfunc = int4pl, stype = integer)`, /cannot back up function total:/],
  ['CATENUM', `CREATE TYPE S.etat AS ENUM ('ouvert', 'clos')`, /cannot back up type etat:/],
  ['CATDOM', `CREATE DOMAIN S.montant AS numeric(12,2) CHECK (VALUE > 0)`, /cannot back up type montant:/],
  ['CATVIEW', `CREATE VIEW S.v AS SELECT a FROM S.t`, /cannot back up relation v \(kind v\):/],
  ['CATMAT', `CREATE MATERIALIZED VIEW S.m AS SELECT 1 AS one`, /cannot back up relation m \(kind m\):/],
  ['CATPART', `CREATE TABLE S.p (a integer) PARTITION BY RANGE (a)`, /cannot back up relation p \(kind p\):/],
  ['CATTRIG', `CREATE TRIGGER tr BEFORE UPDATE ON S.t FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()`, /cannot back up trigger tr:/],
  ['CATRULE', `CREATE RULE r AS ON INSERT TO S.t DO INSTEAD NOTHING`, /cannot back up rule r:/],
  ['CATPOL', `CREATE POLICY p ON S.t USING (a > 0)`, /cannot back up row-level security policy p:/],
  ['CATINH', `CREATE TABLE S.c () INHERITS (S.t)`, /cannot back up inheriting table c:/],
  ['CATCOLL', `CREATE TABLE S.n (nom text COLLATE "C")`, /cannot back up column with a non-default collation n\.nom:/],
  ['CATFK', `CREATE TABLE S.k (d text REFERENCES nightshift.dossier (code))`, /cannot back up constraint \(trigger constraint, or foreign key to another schema\) k_d_fkey:/],
];

test.each(REFUSED)('R-BK-5 %s: an object the format cannot restore is refused as UnsupportedObject, naming it; no file left', async (code, extra, message) => {
  await dossierWith(code, extra);
  const dir = tempDir(code.toLowerCase());
  const err = await backupDossierArchive({ pool: pool(), target: 'main', code, destinationDir: dir }).catch((e: unknown) => e);
  expect(failureTypeOf(err)).toBe(FailureType.UnsupportedObject);
  expect((err as Error).message).toMatch(message);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('R-BK-5 definitions print unqualified, and the statement leaves search_path set to the schema for the rest of the transaction only', async () => {
  await dossierWith(
    'CATDEFS',
    `ALTER TABLE S.t ADD PRIMARY KEY (a);
     CREATE SEQUENCE S.numero START 7;
     CREATE TABLE S.k (id bigserial PRIMARY KEY, n integer DEFAULT nextval('S.numero'::regclass), t integer REFERENCES S.t (a))`,
  );
  const client = await pool().connect();
  try {
    const before = (await client.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path;
    // twice on one connection: the second read runs the cached plan
    for (let i = 0; i < 2; i++) {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const catalog = await readSchemaCatalog(client, 'd_CATDEFS');
      expect((await client.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path).toBe('"d_CATDEFS"');
      await client.query('COMMIT');
      expect(catalog.columns.filter((c) => c.table === 'k').map((c) => c.default)).toEqual(["nextval('k_id_seq'::regclass)", "nextval('numero'::regclass)", null]);
      expect(catalog.constraints.find((c) => c.name === 'k_t_fkey')?.definition).toBe('FOREIGN KEY (t) REFERENCES t(a)');
      expect(catalog.indexes).toEqual([]);
      expect((await client.query<{ search_path: string }>('SHOW search_path')).rows[0]!.search_path).toBe(before);
    }
  } finally {
    client.release();
  }
});
