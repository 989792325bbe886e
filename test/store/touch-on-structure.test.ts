import crypto from 'node:crypto';
import pg from 'pg';
import { generateDemoDossiers } from '../../registry/demo';
import { qualified } from '../../db/ident';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * R-BK-10 (scale drill, 2026-12-04): a change of a dossier's structure made by hand makes it modified, as a write does;
 * it used to leave it "not modified" (the batch skipped it, a patch run reused its older archive as the restore
 * point and a rollback took the change away), and a table created by hand had no touch trigger (its writes unseen).
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');

beforeAll(async () => {
  stack = await createTestStack();
  await generateDemoDossiers(pool(), { target: 'main', count: 2, sizeKb: 1, prefix: 'DDL' });
});
afterAll(async () => {
  await stack.close();
});

/** As a backup leaves it: every change counted up to now is backed up. */
async function backedUp(): Promise<void> {
  await pool().query(`UPDATE nightshift.dossier SET backup_seq = change_seq WHERE code LIKE 'DDL%'`);
}
async function modified(code: string): Promise<boolean> {
  const { rows } = await pool().query<{ m: boolean }>('SELECT backup_seq IS DISTINCT FROM change_seq AS m FROM nightshift.dossier WHERE code = $1', [code]);
  return rows[0]!.m;
}

test.each([
  ['a constraint added', (t: string) => `ALTER TABLE ${t} ADD CONSTRAINT drill_chk CHECK (length(cle) < 200)`],
  ['a column added', (t: string) => `ALTER TABLE ${t} ADD COLUMN note text`],
  ['a column dropped', (t: string) => `ALTER TABLE ${t} DROP COLUMN note`],
  ['an index created', (t: string) => `CREATE INDEX drill_idx ON ${t} (cle)`],
])('R-BK-10: %s by hand makes the dossier modified, and only that dossier', async (_what, ddl) => {
  await backedUp();
  await pool().query(ddl(qualified('d_DDL0001', 'parametre')));
  expect(await modified('DDL0001')).toBe(true);
  expect(await modified('DDL0002')).toBe(false);
});

test('R-BK-10: a table created by hand makes the dossier modified and gets the touch trigger (a later write is seen); dropping it too', async () => {
  const table = qualified('d_DDL0001', 'annexe');
  await backedUp();
  await pool().query(`CREATE TABLE ${table} (id int PRIMARY KEY, texte text)`);
  expect(await modified('DDL0001')).toBe(true);
  await backedUp();
  await pool().query(`INSERT INTO ${table} VALUES (1, 'écrit après la sauvegarde')`);
  expect(await modified('DDL0001')).toBe(true);
  await backedUp();
  await pool().query(`DROP TABLE ${table}`);
  expect(await modified('DDL0001')).toBe(true);
  expect(await modified('DDL0002')).toBe(false);
});

test('R-BK-10: structure changes outside dossier schemas change no dossier; the touch trigger bumps once per transaction', async () => {
  await backedUp();
  await pool().query('CREATE SCHEMA IF NOT EXISTS drill_other');
  await pool().query('CREATE TABLE drill_other.t (x int)');
  await pool().query('DROP SCHEMA drill_other CASCADE');
  expect(await modified('DDL0001')).toBe(false);
  expect(await modified('DDL0002')).toBe(false);

  // one counter for every dossier: the numbers the transaction took from it
  const counter = async () => BigInt((await pool().query<{ s: string }>('SELECT last_value::text AS s FROM nightshift.change_seq')).rows[0]!.s);
  const before = await counter();
  const client = await pool().connect();
  try {
    await client.query('BEGIN');
    await client.query(`UPDATE ${qualified('d_DDL0002', 'parametre')} SET valeur = valeur`);
    await client.query(`ALTER TABLE ${qualified('d_DDL0002', 'parametre')} ADD COLUMN note2 text`);
    await client.query(`ALTER TABLE ${qualified('d_DDL0002', 'parametre')} DROP COLUMN note2`);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  expect((await counter()) - before).toBe(1n);
  expect(await modified('DDL0002')).toBe(true);
});

test('R-BK-10: the event triggers run as their owner: a role without rights on the nightshift schema keeps its own DDL (it was refused), and its change in a dossier it may alter still counts', async () => {
  const role = `ddl_app_${crypto.randomBytes(4).toString('hex')}`;
  const password = crypto.randomBytes(12).toString('hex');
  const db = new URL(stack.databaseUrl).pathname.slice(1);
  await pool().query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
  await pool().query(`GRANT CREATE ON DATABASE ${db} TO ${role}`);
  await pool().query(`GRANT USAGE, CREATE ON SCHEMA "d_DDL0002" TO ${role}`);
  const url = new URL(stack.databaseUrl);
  url.username = role;
  url.password = password;
  const app = new pg.Client({ connectionString: url.toString() });
  await app.connect();
  try {
    await backedUp();
    await app.query('CREATE SCHEMA app_own');
    await app.query('CREATE TABLE app_own.t (x int)');
    await app.query('DROP SCHEMA app_own CASCADE');
    expect(await modified('DDL0002')).toBe(false);
    await app.query('CREATE TABLE "d_DDL0002".app_table (x int)');
    expect(await modified('DDL0002')).toBe(true);
    await app.query('DROP TABLE "d_DDL0002".app_table');
  } finally {
    await app.end();
    await pool().query(`REVOKE ALL ON SCHEMA "d_DDL0002" FROM ${role}`);
    await pool().query(`REVOKE ALL ON DATABASE ${db} FROM ${role}`);
    await pool().query(`DROP ROLE ${role}`);
  }
});
