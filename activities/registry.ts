import { parseInput } from '../domain/validation';
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import {
  type Dossier,
  type NewDossier,
  dossierCodeSchema,
  newDossierSchema,
  schemaNameFor,
} from '../domain/dossier';
import { DOSSIER_IN_USE_MESSAGE, FailureType, permanentFailure } from '../domain/failures';
import { ident } from '../db/ident';
import type { ActivityDeps } from './deps';

/**
 * The tables every dossier starts with: the business application's accounting structure. The
 * foreign keys and secondary indexes come after the tables so that a bulk load (the demo generator,
 * a restore) can go in between: checking them once after COPY is much cheaper than row by row.
 * Constraint names are PostgreSQL's defaults, so both paths give the same catalog.
 */
export const DOSSIER_BASE_TABLES = `
CREATE TABLE compte (
  numero   varchar(12) PRIMARY KEY,
  libelle  text NOT NULL,
  nature   char(1) NOT NULL CHECK (nature IN ('A', 'P', 'C', 'R', 'T'))
);
CREATE TABLE journal (
  code     varchar(4) PRIMARY KEY,
  libelle  text NOT NULL,
  type     text NOT NULL
);
CREATE TABLE ecriture (
  id            bigserial PRIMARY KEY,
  journal       varchar(4) NOT NULL,
  date_ecriture date NOT NULL,
  piece         text,
  libelle       text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ligne (
  ecriture_id bigint NOT NULL,
  n           smallint NOT NULL,
  compte      varchar(12) NOT NULL,
  debit       numeric(15, 2) NOT NULL DEFAULT 0,
  credit      numeric(15, 2) NOT NULL DEFAULT 0,
  PRIMARY KEY (ecriture_id, n)
);
CREATE TABLE parametre (
  cle     text PRIMARY KEY,
  valeur  jsonb NOT NULL
);
`;
export const DOSSIER_BASE_CONSTRAINTS = `
ALTER TABLE ecriture ADD CONSTRAINT ecriture_journal_fkey FOREIGN KEY (journal) REFERENCES journal (code);
ALTER TABLE ligne
  ADD CONSTRAINT ligne_ecriture_id_fkey FOREIGN KEY (ecriture_id) REFERENCES ecriture (id) ON DELETE CASCADE,
  ADD CONSTRAINT ligne_compte_fkey FOREIGN KEY (compte) REFERENCES compte (numero);
CREATE INDEX ligne_compte ON ligne (compte);
`;
export const DOSSIER_BASE_STRUCTURE = DOSSIER_BASE_TABLES + DOSSIER_BASE_CONSTRAINTS;

interface DossierRow {
  code: string;
  label: string;
  role: Dossier['role'];
  is_test: boolean;
  is_specific: boolean;
  is_template: boolean;
  is_transferable: boolean;
  copy_status: Dossier['copyStatus'];
  schema_name: string;
  modified_at: Date;
  last_backup_at: Date | null;
  patch_level: number;
  modified_since_backup: boolean;
}

export const DOSSIER_COLUMNS = `code, label, role, is_test, is_specific, is_template, is_transferable, copy_status,
  schema_name, modified_at, last_backup_at, patch_level,
  (backup_seq IS NULL OR change_seq > backup_seq) AS modified_since_backup`;

export function toDossier(r: DossierRow): Dossier {
  return {
    code: r.code,
    label: r.label,
    role: r.role,
    copyStatus: r.copy_status,
    flags: { test: r.is_test, specific: r.is_specific, template: r.is_template, transferable: r.is_transferable },
    schemaName: r.schema_name,
    modifiedAt: r.modified_at.toISOString(),
    lastBackupAt: r.last_backup_at ? r.last_backup_at.toISOString() : null,
    patchLevel: r.patch_level,
    modifiedSinceBackup: r.modified_since_backup,
  };
}

export interface TableStat {
  table: string;
  rows: number;
  /** Order-independent sum of the rows' md5 (first 60 bits), as a decimal string. */
  checksum: string;
}

export function documentsFolder(documentsDir: string, target: string, code: string): string {
  return path.join(documentsDir, target, dossierCodeSchema.parse(code));
}

/**
 * Inserts the registry row and creates the schema. Runs inside the caller's transaction.
 * With the base structure, `load` (if given) fills the tables before the constraints are added.
 */
export async function insertDossier(
  client: pg.PoolClient | pg.Client,
  input: NewDossier,
  withBaseStructure: boolean,
  load?: (schema: string) => Promise<void>,
): Promise<void> {
  await insertDossiers(client, [input], withBaseStructure, load && (([schema]) => load(schema!)));
}

/**
 * insertDossier for many dossiers in the caller's transaction, in a fixed number of round trips
 * (plus what `load` does): the demo generator makes 100,000 small dossiers this way. `load` gets the
 * schemas in input order.
 */
export async function insertDossiers(
  client: pg.PoolClient | pg.Client,
  inputs: NewDossier[],
  withBaseStructure: boolean,
  load?: (schemas: string[]) => Promise<void>,
): Promise<void> {
  if (!inputs.length) return;
  const schemas = inputs.map((d) => schemaNameFor(d.code));
  const existing = await client.query<{ code: string }>('SELECT code FROM nightshift.dossier WHERE lower(code) = ANY ($1::text[])', [
    inputs.map((d) => d.code.toLowerCase()),
  ]);
  if (existing.rows[0]) throw permanentFailure(FailureType.DossierExists, `dossier ${existing.rows[0].code} already exists`);
  if (inputs.some((d) => d.role === 'supervisor')) {
    const sup = await client.query(`SELECT code FROM nightshift.dossier WHERE role = 'supervisor'`);
    if (sup.rowCount) {
      throw permanentFailure(FailureType.SupervisorConflict, `dossier ${sup.rows[0].code} is already the supervisor of this target (one per target)`);
    }
  }
  const column = <T>(f: (d: NewDossier) => T): T[] => inputs.map(f);
  try {
    await client.query(
      `INSERT INTO nightshift.dossier (code, label, role, is_test, is_specific, is_template, is_transferable, copy_status, schema_name)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::boolean[], $6::boolean[], $7::boolean[], $8::text[], $9::text[])`,
      [
        column((d) => d.code),
        column((d) => d.label),
        column((d) => d.role),
        column((d) => d.flags.test),
        column((d) => d.flags.specific),
        column((d) => d.flags.template),
        column((d) => d.flags.transferable),
        column((d) => d.copyStatus),
        schemas,
      ],
    );
    await client.query(
      schemas
        .map((schema) => (withBaseStructure ? `CREATE SCHEMA ${ident(schema)}; SET LOCAL search_path = ${ident(schema)}; ${DOSSIER_BASE_TABLES}` : `CREATE SCHEMA ${ident(schema)};`))
        .join('\n') + (withBaseStructure ? '; SET LOCAL search_path = DEFAULT' : ''),
    );
  } catch (err) {
    throw conflictFailure(err, inputs.length === 1 ? inputs[0]!.code : `(one of ${inputs[0]!.code} .. ${inputs[inputs.length - 1]!.code})`, inputs.length === 1 ? schemas[0]! : 'of one of them');
  }
  if (withBaseStructure) {
    if (load) await load(schemas);
    await client.query(schemas.map((schema) => `SET LOCAL search_path = ${ident(schema)}; ${DOSSIER_BASE_CONSTRAINTS}`).join('\n') + '; SET LOCAL search_path = DEFAULT');
    await client.query('SELECT nightshift.install_touch_triggers(s) FROM unnest($1::text[]) AS s', [schemas]);
  }
}

/**
 * A concurrent create can pass the checks above and then hit the unique indexes (or an unregistered
 * schema of the same name): those are permanent conflicts, not transient errors worth retrying.
 */
function conflictFailure(err: unknown, code: string, schema: string): unknown {
  const e = err as { code?: string; constraint?: string };
  if (e.code === '23505' && e.constraint === 'dossier_one_supervisor') {
    return permanentFailure(FailureType.SupervisorConflict, 'this target already has a supervisor dossier (one per target)');
  }
  if (e.code === '23505') return permanentFailure(FailureType.DossierExists, `dossier ${code} already exists`);
  if (e.code === '42P06') return permanentFailure(FailureType.DossierExists, `schema ${schema} already exists in the target database without a registered dossier`);
  return err;
}

export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

export function createRegistryActivities({ pools, config }: ActivityDeps) {
  async function getDossier(target: string, code: string): Promise<Dossier> {
    const valid = dossierCodeSchema.safeParse(code);
    if (!valid.success) throw permanentFailure(FailureType.InvalidInput, valid.error.issues[0]!.message);
    const { rows } = await pools.get(target).query<DossierRow>(`SELECT ${DOSSIER_COLUMNS} FROM nightshift.dossier WHERE code = $1`, [code]);
    if (!rows[0]) throw permanentFailure(FailureType.UnknownDossier, `unknown dossier ${code} in target ${target}`);
    return toDossier(rows[0]);
  }

  return {
    getDossier,

    async listDossiers(target: string): Promise<Dossier[]> {
      const { rows } = await pools.get(target).query<DossierRow>(
        `SELECT ${DOSSIER_COLUMNS} FROM nightshift.dossier ORDER BY role = 'supervisor' DESC, code`,
      );
      return rows.map(toDossier);
    },

    async createDossier(target: string, raw: unknown): Promise<Dossier> {
      const input = parseInput(newDossierSchema, raw);
      await withTransaction(pools.get(target), (c) => insertDossier(c, input, true));
      return getDossier(target, input.code);
    },

    /** Drops the dossier's schema and registry row (refused while in use), then its documents. */
    async deleteDossier(target: string, code: string): Promise<void> {
      const dossier = await getDossier(target, code);
      await withTransaction(pools.get(target), async (c) => {
        await c.query('SELECT 1 FROM nightshift.dossier WHERE code = $1 FOR UPDATE', [code]);
        const inUse = await c.query('SELECT 1 FROM nightshift.dossier_in_use WHERE dossier_code = $1', [code]);
        if (inUse.rowCount) throw permanentFailure(FailureType.DossierInUse, DOSSIER_IN_USE_MESSAGE);
        await c.query(`DROP SCHEMA IF EXISTS ${ident(dossier.schemaName)} CASCADE`);
        await c.query('DELETE FROM nightshift.dossier WHERE code = $1', [code]);
      });
      await fs.rm(documentsFolder(config.documentsDir, target, code), { recursive: true, force: true });
    },

    /** Row count and checksum of each table, from one snapshot: what a round trip must preserve. */
    async tableStats(target: string, code: string): Promise<TableStat[]> {
      const dossier = await getDossier(target, code);
      return withTransaction(pools.get(target), async (c) => {
        await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        // rows are hashed as text: pin every setting that changes that text, so that the worker, the
        // CLI and a restore on another server compute the same checksum for the same data
        await c.query(`SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres';
                       SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'`);
        const tables = await c.query<{ relname: string }>(
          `SELECT relname FROM nightshift.schema_relations($1) WHERE relkind IN ('r', 'p') ORDER BY relname`,
          [dossier.schemaName],
        );
        const stats: TableStat[] = [];
        for (const { relname } of tables.rows) {
          const { rows } = await c.query<{ rows: string; checksum: string }>(
            `SELECT count(*)::text AS rows,
                    coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text AS checksum
               FROM ${ident(dossier.schemaName)}.${ident(relname)} t`,
          );
          stats.push({ table: relname, rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum });
        }
        return stats;
      });
    },
  };
}
