import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { PG_MIGRATE_LOCK_ID, runner } from 'node-pg-migrate';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
export const CONTROL_SCHEMA = 'nightshift';
/** node-pg-migrate records names only: the content each name had when it was applied lives here. */
export const CHECKSUM_TABLE = `${CONTROL_SCHEMA}.migration_checksum`;
/**
 * node-pg-migrate's own key, taken here with a waiting pg_advisory_lock: workers starting together queue
 * behind each other, and an older Nightshift (which tries that key without waiting) refuses to run alongside.
 */
export const MIGRATION_LOCK_KEY = PG_MIGRATE_LOCK_ID;

export interface MigrationFile {
  name: string;
  sha256: string;
}

/** A migration applied to this database no longer has the content it was applied with. */
export class MigrationDrift extends Error {
  readonly type = 'MigrationDrift';
  constructor(
    readonly migration: string,
    readonly database: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${problem}: ${fix}`);
    this.name = 'MigrationDrift';
  }
}

/** This database was migrated by a newer Nightshift than this process. */
export class SchemaTooNew extends Error {
  readonly type = 'SchemaTooNew';
  readonly fix = 'upgrade this process';
  readonly problem: string;
  constructor(
    readonly migration: string,
    readonly database: string,
  ) {
    super(`database ${database} was migrated by a newer Nightshift (${migration}): upgrade this process`);
    this.problem = `database ${database} was migrated by a newer Nightshift (${migration})`;
    this.name = 'SchemaTooNew';
  }
}

export type MigrationRefusal = MigrationDrift | SchemaTooNew;

export interface MigrateOptions {
  /** the migrations folder (tests: a copy); default db/migrations */
  dir?: string;
  /** how messages name the database (a target's name); default the database name of the URL */
  database?: string;
  /** what an operator should read (checksums trusted on first use); default `log` */
  notice?: (msg: string) => void;
}

/** Line endings normalised, so that a checkout with CRLF (Windows) does not read as drift. */
export function migrationChecksum(content: string): string {
  return crypto.createHash('sha256').update(content.replace(/\r\n/g, '\n'), 'utf8').digest('hex');
}

/** The migration files of dir as node-pg-migrate names them (file name without extension), in name order. */
export function readMigrationFiles(dir: string = MIGRATIONS_DIR): MigrationFile[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => (d.isFile() || d.isSymbolicLink()) && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort()
    .map((f) => ({ name: path.basename(f, path.extname(f)), sha256: migrationChecksum(fs.readFileSync(path.join(dir, f), 'utf8')) }));
}

function databaseLabel(databaseUrl: string, options: MigrateOptions): string {
  if (options.database) return options.database;
  try {
    return decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || 'postgres';
  } catch {
    return 'target';
  }
}

/**
 * Read-only: the first reason to refuse this database, or undefined. A name recorded in the database that
 * these files lack is a newer schema when it sorts after every file, else a removed or renamed migration;
 * a recorded checksum that differs from the file's is drift. Names without a checksum yet are not judged.
 */
export async function findMigrationRefusal(
  client: pg.ClientBase,
  files: MigrationFile[],
  database: string,
): Promise<MigrationRefusal | undefined> {
  const names = await appliedNames(client);
  const known = new Map(files.map((f) => [f.name, f.sha256]));
  const last = files.at(-1)?.name ?? '';
  const unknown = names.filter((n) => !known.has(n));
  const newer = unknown.filter((n) => n > last).sort();
  if (newer.length) return new SchemaTooNew(newer.at(-1)!, database);
  if (unknown.length) {
    return new MigrationDrift(
      unknown[0]!,
      database,
      `migration ${unknown[0]} was applied to database ${database} but its file is missing from this Nightshift`,
      'restore the file as it was applied (migrations are never removed or renamed), or run the Nightshift that applied it',
    );
  }
  if (!(await checksumTableExists(client))) return undefined;
  const recorded = await client.query<{ name: string; sha256: string }>(`SELECT name, sha256 FROM ${CHECKSUM_TABLE} ORDER BY name`);
  for (const row of recorded.rows) {
    const current = known.get(row.name);
    if (current !== undefined && current !== row.sha256 && names.includes(row.name)) {
      return new MigrationDrift(
        row.name,
        database,
        `migration ${row.name} was changed after it was applied to database ${database} (sha256 applied ${row.sha256.slice(0, 12)}, file now ${current.slice(0, 12)})`,
        'restore the file as it was applied (git log -- db/migrations) and put the change in a new numbered migration',
      );
    }
  }
  return undefined;
}

/**
 * Read-only, for a process that uses a target without migrating it (the gate): the refusal a worker would give (a
 * newer schema, drift), else the migrations of this release not applied yet (drill U: a new gate on a database not
 * migrated accepted logins, then answered 500 to every heartbeat: a column of migration 0033 was missing).
 */
export async function migrationShortfall(client: pg.ClientBase, database: string, files: MigrationFile[] = readMigrationFiles()): Promise<{ refusal?: MigrationRefusal; missing: string[] }> {
  const refusal = await findMigrationRefusal(client, files, database);
  if (refusal) return { refusal, missing: [] };
  const applied = new Set(await appliedNames(client));
  return { missing: files.map((f) => f.name).filter((n) => !applied.has(n)) };
}

export async function appliedNames(client: pg.ClientBase): Promise<string[]> {
  const t = await client.query<{ t: string | null }>(`SELECT to_regclass('${CONTROL_SCHEMA}.pgmigrations')::text AS t`);
  if (!t.rows[0]?.t) return [];
  return (await client.query<{ name: string }>(`SELECT name FROM ${CONTROL_SCHEMA}.pgmigrations ORDER BY run_on, id`)).rows.map((r) => r.name);
}

async function checksumTableExists(client: pg.ClientBase): Promise<boolean> {
  const t = await client.query<{ t: string | null }>(`SELECT to_regclass('${CHECKSUM_TABLE}')::text AS t`);
  return Boolean(t.rows[0]?.t);
}

/** Checksums for applied names that have none yet: the content on disk now is taken as the one applied. */
async function recordMissingChecksums(client: pg.ClientBase, files: MigrationFile[]): Promise<string[]> {
  const names = new Set(await appliedNames(client));
  const todo = files.filter((f) => names.has(f.name));
  if (!todo.length) return [];
  const r = await client.query<{ name: string }>(
    `INSERT INTO ${CHECKSUM_TABLE} (name, sha256)
     SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (name) DO NOTHING
     RETURNING name`,
    [todo.map((f) => f.name), todo.map((f) => f.sha256)],
  );
  return r.rows.map((row) => row.name).sort();
}

/**
 * Applies the numbered SQL migrations of db/migrations to one target database, under an advisory lock held
 * by a dedicated connection. Refuses (MigrationDrift, SchemaTooNew) before applying anything when an applied
 * migration changed or the database knows a migration these files lack.
 */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => {}, options: MigrateOptions = {}): Promise<string[]> {
  const dir = options.dir ?? MIGRATIONS_DIR;
  const database = databaseLabel(databaseUrl, options);
  const files = readMigrationFiles(dir);
  const client = new pg.Client({ connectionString: databaseUrl });
  // a dropped connection surfaces through the pending query; without a listener it would crash the process
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${CONTROL_SCHEMA}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${CHECKSUM_TABLE} (
           name text PRIMARY KEY,
           sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const refusal = await findMigrationRefusal(client, files, database);
      if (refusal) throw refusal;
      const trusted = await recordMissingChecksums(client, files);
      if (trusted.length) (options.notice ?? log)(`recorded the checksums of ${trusted.length} migration(s) applied before checksums were kept (trust on first use): ${trusted.join(', ')}`);
      let applied: { name: string }[];
      try {
        applied = await runner({
          dbClient: client,
          noLock: true,
          dir,
          direction: 'up',
          migrationsTable: 'pgmigrations',
          migrationsSchema: CONTROL_SCHEMA,
          schema: CONTROL_SCHEMA,
          createSchema: true,
          createMigrationsSchema: true,
          checkOrder: true,
          log,
          logger: { debug: () => {}, info: log, warn: log, error: log },
        });
      } catch (err) {
        // the migrations that did commit before the failure keep the content they ran with; the failure is what counts
        await recordMissingChecksums(client, files).catch(() => {});
        throw err;
      }
      await recordMissingChecksums(client, files);
      return applied.map((m) => m.name);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
}
