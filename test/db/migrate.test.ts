import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import {
  CHECKSUM_TABLE,
  MIGRATIONS_DIR,
  MigrationDrift,
  SchemaTooNew,
  migrate,
  migrationChecksum,
  readMigrationFiles,
} from '../../db/migrate';
import { createTestDatabase, requireEnv, tempDir, uniqueName } from '../helpers/env';
import { cleanEnv, freePort, runCli } from '../stack/helpers';
import type { DoctorReport } from '../../cli/commands/doctor';

/**
 * Migrations that cannot drift (issue 11, item 3): applied migrations are checksummed and a changed one is
 * refused by name; a database migrated by a newer Nightshift is refused; migrating is serialised by an
 * advisory lock; numbers continue without gaps. Every refusal leaves the database as it was.
 */

/** Numbers 0002 and 0004 were never committed: the gaps before 0009 are history, not to be filled. */
const HISTORIC = ['0001_dossier-registry', '0003_maintenance-window', '0005_backup-batch', '0006_patch', '0007_schema-relations', '0008_patch-engine'];

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A database with nothing in it (no template), as a new deployment has. */
async function createBareDatabase(): Promise<string> {
  const name = uniqueName('bare').toLowerCase();
  await withClient(requireEnv('NS_TEST_PG_ADMIN_URL'), (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(requireEnv('NS_TEST_PG_ADMIN_URL'));
  url.pathname = `/${name}`;
  return url.toString();
}

async function recordedNames(url: string): Promise<string[]> {
  return withClient(url, async (c) => (await c.query<{ name: string }>('SELECT name FROM nightshift.pgmigrations ORDER BY id')).rows.map((r) => r.name));
}

async function recordedChecksums(url: string): Promise<Record<string, string>> {
  return withClient(url, async (c) => Object.fromEntries((await c.query<{ name: string; sha256: string }>(`SELECT name, sha256 FROM ${CHECKSUM_TABLE}`)).rows.map((r) => [r.name, r.sha256])));
}

async function tableExists(url: string, table: string): Promise<boolean> {
  return withClient(url, async (c) => Boolean((await c.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table])).rows[0]?.t));
}

/** A copy of db/migrations plus one new migration numbered after the last, creating `nightshift.<probe>`. */
function migrationsCopyWithProbe(): { dir: string; probe: string; probeTable: string } {
  const dir = tempDir('migrations');
  for (const f of fs.readdirSync(MIGRATIONS_DIR)) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
  const last = Number(readMigrationFiles(dir).at(-1)!.name.slice(0, 4));
  const probe = `${String(last + 1).padStart(4, '0')}_probe`;
  const probeTable = 'nightshift.migration_probe';
  fs.writeFileSync(path.join(dir, `${probe}.sql`), `CREATE TABLE ${probeTable} (id int);\n`);
  return { dir, probe, probeTable };
}

function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a refusal, but migrate() succeeded');
    },
    (err: unknown) => err,
  );
}

test('numbering: the pre-0009 set is exactly the historic one, and from 0009 on numbers follow each other without gap', () => {
  const files = fs.readdirSync(MIGRATIONS_DIR).filter((f) => !f.startsWith('.'));
  for (const f of files) expect(f).toMatch(/^\d{4}_[a-z0-9-]+\.sql$/);
  const names = readMigrationFiles().map((m) => m.name);
  const numbers = names.map((n) => Number(n.slice(0, 4)));
  expect(new Set(numbers).size).toBe(numbers.length);
  expect(names.filter((n) => Number(n.slice(0, 4)) < 9)).toEqual(HISTORIC);
  const recent = numbers.filter((n) => n >= 9);
  expect(recent[0]).toBe(9);
  expect(recent).toEqual(recent.map((_, i) => 9 + i));
});

test('checksums ignore line endings: a CRLF checkout has the same sha256 as the committed LF file', () => {
  expect(migrationChecksum('CREATE TABLE a (id int);\r\nCREATE TABLE b (id int);\r\n')).toBe(migrationChecksum('CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n'));
  expect(migrationChecksum('CREATE TABLE a (id int);\n')).not.toBe(migrationChecksum('CREATE TABLE a (id bigint);\n'));
});

test('4 workers migrating a fresh database at once: all succeed, every migration applied exactly once, checksums recorded', async () => {
  const url = await createBareDatabase();
  const files = readMigrationFiles();
  const results = await Promise.all([1, 2, 3, 4].map(() => migrate(url)));
  // the lock serialises them: one applies everything, the others find nothing to do
  expect(results.flat().sort()).toEqual(files.map((f) => f.name));
  expect(results.filter((r) => r.length > 0)).toHaveLength(1);
  expect(await recordedNames(url)).toEqual(files.map((f) => f.name));
  expect(await recordedChecksums(url)).toEqual(Object.fromEntries(files.map((f) => [f.name, f.sha256])));
  // and a fifth, later, still finds nothing to do and nothing to refuse
  expect(await migrate(url)).toEqual([]);
});

test('R-BK-1 R-BK-11 migration 0037 on a database that already holds two generations of one dossier in one batch run: it applies, keeps both rows, and refuses a third', async () => {
  const url = await createBareDatabase();
  const before = tempDir('migrations-0036');
  for (const f of fs.readdirSync(MIGRATIONS_DIR)) if (f < '0037') fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(before, f));
  await migrate(url, () => {}, { dir: before });
  await withClient(url, async (c) => {
    const run = (await c.query<{ id: string }>(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings) VALUES ('backup/main/old', 'run', '{}') RETURNING id`)).rows[0]!.id;
    const generation = (code: string, n: number) =>
      c.query(`INSERT INTO nightshift.backup_generation (code, kind, file, run_id, snapshot_at, size) VALUES ($1, 'normal', $2, $3, now(), 1)`, [code, `/g/${code}.${n}.SVG`, run]);
    // what an attempt superseded while its worker was frozen could record before (with an off-site bucket)
    await generation('DUP', 1);
    await generation('DUP', 2);
    await generation('ONE', 1);
    // 0037 first, then any later one
    expect((await migrate(url))[0]).toBe('0037_backup-generation-once-per-run');
    expect((await c.query(`SELECT code FROM nightshift.backup_generation ORDER BY id`)).rows.map((r) => r.code)).toEqual(['DUP', 'DUP', 'ONE']);
    for (const code of ['DUP', 'ONE']) await expect(generation(code, 3)).rejects.toMatchObject({ code: '23505', constraint: 'backup_generation_once_per_run' });
    await generation('NEW', 1);
    await expect(generation('NEW', 2)).rejects.toMatchObject({ code: '23505', constraint: 'backup_generation_once_per_run' });
    // single-dossier backups and restore points (no run) are not limited
    await c.query(`INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size) VALUES ('NEW', 'normal', '/g/NEW.single.SVG', now(), 1), ('NEW', 'normal', '/g/NEW.single2.SVG', now(), 1)`);
  });
});

test('an existing deployment (names recorded, no checksums yet): the current files are trusted on first use and said so', async () => {
  const url = await createTestDatabase('tofu');
  await withClient(url, (c) => c.query(`DROP TABLE ${CHECKSUM_TABLE}`));
  const said: string[] = [];
  expect(await migrate(url, (m) => said.push(m))).toEqual([]);
  const files = readMigrationFiles();
  expect(await recordedChecksums(url)).toEqual(Object.fromEntries(files.map((f) => [f.name, f.sha256])));
  expect(said.join('\n')).toMatch(new RegExp(`trust on first use.*${files[0]!.name}`));
});

test('a changed applied migration is refused by name, and nothing after it is applied; restored, it migrates again', async () => {
  const url = await createTestDatabase('drift');
  const { dir, probe, probeTable } = migrationsCopyWithProbe();
  const edited = path.join(dir, '0007_schema-relations.sql');
  const original = fs.readFileSync(edited, 'utf8');
  fs.writeFileSync(edited, `${original}\n-- edited after it was committed\n`);

  const err = await rejection(migrate(url, undefined, { dir, database: 'main' }));
  expect(err).toBeInstanceOf(MigrationDrift);
  expect(err).toMatchObject({ type: 'MigrationDrift', migration: '0007_schema-relations', database: 'main' });
  expect((err as Error).message).toMatch(/^migration 0007_schema-relations was changed after it was applied to database main .*: restore the file .* new numbered migration$/);
  expect(await recordedNames(url)).not.toContain(probe);
  expect(await tableExists(url, probeTable)).toBe(false);
  // the recorded checksum is the applied one, not overwritten by the refused attempt
  expect((await recordedChecksums(url))['0007_schema-relations']).toBe(migrationChecksum(original));

  // the same file with CRLF line endings is not drift
  fs.writeFileSync(edited, original.replace(/\n/g, '\r\n'));
  expect(await migrate(url, undefined, { dir })).toEqual([probe]);
  expect(await tableExists(url, probeTable)).toBe(true);
  expect((await recordedChecksums(url))[probe]).toBe(migrationChecksum(fs.readFileSync(path.join(dir, `${probe}.sql`), 'utf8')));
});

test('a database migrated by a newer Nightshift is refused with its name, and nothing is applied', async () => {
  const url = await createTestDatabase('newer');
  const { dir, probe, probeTable } = migrationsCopyWithProbe();
  await withClient(url, (c) => c.query(`INSERT INTO nightshift.pgmigrations (name, run_on) VALUES ('0099_future', now())`));

  const err = await rejection(migrate(url, undefined, { dir, database: 'main' }));
  expect(err).toBeInstanceOf(SchemaTooNew);
  expect((err as Error).message).toBe('database main was migrated by a newer Nightshift (0099_future): upgrade this process');
  expect(await recordedNames(url)).not.toContain(probe);
  expect(await tableExists(url, probeTable)).toBe(false);
  // without a target name, the message names the database of the URL
  const dbName = new URL(url).pathname.slice(1);
  await expect(migrate(url, undefined, { dir })).rejects.toThrow(`database ${dbName} was migrated by a newer Nightshift (0099_future)`);
});

test('an applied migration whose file is gone (removed or renamed) is refused by name, and nothing is applied', async () => {
  const url = await createTestDatabase('gone');
  const { dir, probe } = migrationsCopyWithProbe();
  fs.renameSync(path.join(dir, '0006_patch.sql'), path.join(dir, '0006_patches.sql'));
  const err = await rejection(migrate(url, undefined, { dir }));
  expect(err).toMatchObject({ type: 'MigrationDrift', migration: '0006_patch' });
  expect((err as Error).message).toMatch(/migration 0006_patch was applied to database \S+ but its file is missing/);
  expect(await recordedNames(url)).not.toContain(probe);
  expect(await recordedNames(url)).not.toContain('0006_patches');
});

describe('the worker and doctor on a drifted database', () => {
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase('wdrift');
    // what a database that ran an earlier text of 0007 looks like to this code
    await withClient(url, (c) => c.query(`UPDATE ${CHECKSUM_TABLE} SET sha256 = $1 WHERE name = '0007_schema-relations'`, ['0'.repeat(64)]));
  });

  test('`nightshift worker` stops at start with one line naming the migration, exit 1, no stack trace', async () => {
    const before = await recordedNames(url);
    const r = await runCli(
      ['worker'],
      cleanEnv({
        DATABASE_URL: url,
        NIGHTSHIFT_DATA_DIR: tempDir('worker'),
        TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
        TEMPORAL_TASK_QUEUE: uniqueName('tq'),
        NIGHTSHIFT_METRICS_PORT: String(await freePort()),
      }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^nightshift: MigrationDrift: migration 0007_schema-relations was changed after it was applied to database main \(sha256 applied 000000000000, file now [0-9a-f]{12}\): restore the file/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await recordedNames(url)).toEqual(before);
  });

  test('`nightshift doctor --json` reports the drift as a finding on the target, with what to do', async () => {
    const r = await runCli(
      ['doctor', '--json'],
      cleanEnv({
        DATABASE_URL: url,
        NIGHTSHIFT_DATA_DIR: tempDir('doctor'),
        TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
        TEMPORAL_TASK_QUEUE: uniqueName('tq'),
        NIGHTSHIFT_METRICS_PORT: String(await freePort()),
        NIGHTSHIFT_GATE_PORT: String(await freePort()),
        TEMPORAL_CLI: requireEnv('NS_TEST_TEMPORAL_CLI'),
        TEMPORAL_TEST_SERVER: requireEnv('NS_TEST_TEMPORAL_TEST_SERVER'),
      }),
    );
    expect(r.code).toBe(1);
    const main = (JSON.parse(r.stdout) as DoctorReport).services.postgres.main!;
    expect(main.state).toBe('error');
    expect(main.message).toMatch(/migration 0007_schema-relations was changed after it was applied to database main/);
    expect(main.fix).toMatch(/new numbered migration/);
    // doctor only reads: the recorded checksum is untouched
    expect((await recordedChecksums(url))['0007_schema-relations']).toBe('0'.repeat(64));
  });
});

test('the embedded PostgreSQL has room in its lock table for dossiers of hundreds of tables (max_locks_per_transaction 256)', async () => {
  if (process.env.DATABASE_URL) return; // an external server is configured by its operator (README, Deployment)
  const client = new pg.Client({ connectionString: requireEnv('NS_TEST_PG_ADMIN_URL') });
  await client.connect();
  try {
    expect((await client.query<{ max_locks_per_transaction: string }>('SHOW max_locks_per_transaction')).rows[0]!.max_locks_per_transaction).toBe('256');
  } finally {
    await client.end();
  }
});
