import type pg from 'pg';
import { ident } from '../db/ident';
import { FailureType, permanentFailure } from '../domain/failures';
import { type ColumnDef, type SequenceDef, type Structure, copyColumns } from './format';
import { canonicalColumnType } from './sql-text';

/**
 * A dossier schema's structure read from the catalog, and its replay on restore. The caller has set
 * `search_path` to the dossier schema, so that format_type / pg_get_expr / pg_get_constraintdef /
 * pg_get_indexdef print unqualified names and the structure can be restored under another schema.
 * Anything this does not know how to restore exactly is refused (UnsupportedObject), never skipped.
 */

type Client = pg.PoolClient | pg.Client;

function unsupported(what: string): never {
  throw permanentFailure(FailureType.UnsupportedObject, `cannot back up ${what}: this object kind is not supported by the archive format`);
}

/** Names read from the catalog go through the one quoting helper; an unquotable one is unsupported. */
function checkedName(name: string, what: string): string {
  try {
    ident(name);
  } catch {
    unsupported(`${what} ${JSON.stringify(name.slice(0, 80))} (name outside letters, digits, "_" and "-")`);
  }
  return name;
}

const TOUCH_TRIGGER = 'nightshift_touch';

/**
 * The schema's relations (tables, sequences, indexes...) through nightshift.schema_relations: indexed
 * catalog paths, so that reading a dossier's structure does not scan every dossier's catalog rows.
 */
async function schemaRelationOids(c: Client, schema: string): Promise<string[]> {
  const { rows } = await c.query<{ oid: string }>('SELECT oid::text FROM nightshift.schema_relations($1)', [schema]);
  return rows.map((r) => r.oid);
}

/** $1: the schema's name, $2: its relations' oids. Each check selects the first offending object's name. */
const UNSUPPORTED_CHECKS: [string, string][] = [
  [`SELECT format('%s (kind %s)', c.relname, c.relkind) FROM pg_class c WHERE c.oid = ANY ($2::oid[]) AND c.relkind NOT IN ('r', 'S', 'i')`, 'relation'],
  [`SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1`, 'function'],
  [
    // table row types and their arrays come with the tables (they hang on the table, not on the schema);
    // anything the schema owns itself is a user type or domain, and so is the row type of any other relation
    `SELECT t.typname::text FROM pg_namespace n JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid
       JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
      WHERE n.nspname = $1
     UNION ALL
     SELECT t.typname::text FROM pg_class c JOIN pg_type t ON t.oid = c.reltype WHERE c.oid = ANY ($2::oid[]) AND c.relkind NOT IN ('r', 'S', 'i')`,
    'type',
  ],
  [`SELECT tg.tgname::text FROM pg_trigger tg WHERE tg.tgrelid = ANY ($2::oid[]) AND NOT tg.tgisinternal AND tg.tgname <> '${TOUCH_TRIGGER}'`, 'trigger'],
  [`SELECT r.rulename::text FROM pg_rewrite r WHERE r.ev_class = ANY ($2::oid[])`, 'rule'],
  [`SELECT pol.polname::text FROM pg_policy pol WHERE pol.polrelid = ANY ($2::oid[])`, 'row-level security policy'],
  [`SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhrelid = ANY ($2::oid[])`, 'inheriting table'],
  [
    `SELECT format('%s.%s', c.relname, a.attname) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = ANY ($2::oid[]) AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        AND a.attcollation <> 0 AND a.attcollation <> t.typcollation`,
    'column with a non-default collation',
  ],
  [
    // a table's constraints live in its schema; a domain's would have been refused with the domain
    `SELECT con.conname::text FROM pg_constraint con
      WHERE con.conrelid = ANY ($2::oid[]) AND (con.contype NOT IN ('p', 'u', 'c', 'f', 'x')
         OR (con.contype = 'f' AND con.confrelid <> ALL ($2::oid[])))`,
    'constraint (trigger constraint, or foreign key to another schema)',
  ],
];

/** All checks in one round trip; the first check (in list order) that finds something is reported. */
const UNSUPPORTED_SQL = `SELECT check_no, what FROM (${UNSUPPORTED_CHECKS.map(
  ([sql], i) => `(SELECT ${i} AS check_no, what FROM (${sql}) AS found(what) LIMIT 1)`,
).join(' UNION ALL ')}) AS hits ORDER BY check_no LIMIT 1`;

async function refuseUnsupported(c: Client, schema: string, relations: string[]): Promise<void> {
  const { rows } = await c.query<{ check_no: number; what: string }>(UNSUPPORTED_SQL, [schema, relations]);
  if (rows[0]) unsupported(`${UNSUPPORTED_CHECKS[rows[0].check_no]![1]} ${rows[0].what}`);
}

interface SeqRow {
  name: string;
  type: string;
  increment: string;
  min: string;
  max: string;
  start: string;
  cache: string;
  cycle: boolean;
  owner_table: string | null;
  owner_column: string | null;
  identity: boolean;
}

async function readSequenceValue(c: Client, schema: string, name: string): Promise<{ lastValue: string; isCalled: boolean }> {
  const { rows } = await c.query<{ last_value: string; is_called: boolean }>(
    `SELECT last_value::text, is_called FROM ${ident(schema)}.${ident(name)}`,
  );
  return { lastValue: rows[0]!.last_value, isCalled: rows[0]!.is_called };
}

/** Reads the structure inside the caller's snapshot, with search_path set to `schema`. */
export async function readStructure(c: Client, schema: string): Promise<Structure> {
  const relations = await schemaRelationOids(c, schema);
  await refuseUnsupported(c, schema, relations);

  const seqs = await c.query<SeqRow>(
    `SELECT c.relname AS name, format_type(s.seqtypid, NULL) AS type, s.seqincrement::text AS increment,
            s.seqmin::text AS min, s.seqmax::text AS max, s.seqstart::text AS start, s.seqcache::text AS cache,
            s.seqcycle AS cycle, tc.relname AS owner_table, a.attname AS owner_column, coalesce(d.deptype = 'i', false) AS identity
       FROM pg_class c JOIN pg_sequence s ON s.seqrelid = c.oid
       LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                            AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
       LEFT JOIN pg_class tc ON tc.oid = d.refobjid
       LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE c.oid = ANY ($1::oid[]) AND c.relkind = 'S' ORDER BY c.relname`,
    [relations],
  );
  const sequences: SequenceDef[] = [];
  const identitySeqs = new Map<string, SeqRow>();
  for (const s of seqs.rows) {
    if (s.identity) {
      identitySeqs.set(`${s.owner_table}.${s.owner_column}`, s);
      continue;
    }
    sequences.push({
      name: checkedName(s.name, 'sequence'),
      type: s.type as SequenceDef['type'],
      increment: s.increment,
      min: s.min,
      max: s.max,
      start: s.start,
      cache: s.cache,
      cycle: s.cycle,
      ...(await readSequenceValue(c, schema, s.name)),
      ownedBy: s.owner_table && s.owner_column ? { table: s.owner_table, column: s.owner_column } : undefined,
    });
  }

  const cols = await c.query<{
    table: string;
    column: string;
    type: string;
    not_null: boolean;
    default: string | null;
    identity: string;
    generated: string;
  }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            pg_get_expr(ad.adbin, ad.adrelid) AS default, a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_class c
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
      WHERE c.oid = ANY ($1::oid[]) AND c.relkind = 'r' ORDER BY c.relname, a.attnum`,
    [relations],
  );
  const tables = new Map<string, ColumnDef[]>();
  for (const r of cols.rows) {
    const table = checkedName(r.table, 'table');
    const column = checkedName(r.column, 'column');
    // a type outside the allow-list would make an archive that no restore accepts: refused now
    if (canonicalColumnType(r.type) === undefined) unsupported(`column ${table}.${column} of type ${JSON.stringify(r.type.slice(0, 80))}`);
    const col: ColumnDef = { name: column, type: r.type, notNull: r.not_null };
    if (r.generated === 's') col.generated = r.default ?? unsupported(`generated column ${table}.${r.column} without expression`);
    else if (r.default !== null) col.default = r.default;
    if (r.identity === 'a' || r.identity === 'd') {
      const s = identitySeqs.get(`${table}.${r.column}`) ?? unsupported(`identity column ${table}.${r.column} without its sequence`);
      const { lastValue, isCalled } = await readSequenceValue(c, schema, s.name);
      col.identity = {
        kind: r.identity === 'a' ? 'always' : 'by-default',
        sequence: { type: s.type as SequenceDef['type'], increment: s.increment, min: s.min, max: s.max, start: s.start, cache: s.cache, cycle: s.cycle, lastValue, isCalled },
      };
    }
    let list = tables.get(table);
    if (!list) tables.set(table, (list = []));
    list.push(col);
  }
  // a table without columns has nothing to copy but must still exist
  const empty = await c.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
      WHERE c.oid = ANY ($1::oid[]) AND c.relkind = 'r'
        AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)`,
    [relations],
  );
  if (empty.rows[0]) unsupported(`table ${empty.rows[0].name} without columns`);

  const cons = await c.query<{ table: string; name: string; definition: string }>(
    `SELECT c.relname AS table, con.conname AS name, pg_get_constraintdef(con.oid) AS definition
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
      WHERE con.conrelid = ANY ($1::oid[])
      ORDER BY CASE con.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'c' THEN 2 WHEN 'x' THEN 3 ELSE 4 END, c.relname, con.conname`,
    [relations],
  );
  const idx = await c.query<{ name: string; definition: string; qualifier: string }>(
    `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, quote_ident($2) || '.' AS qualifier
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indexrelid = ANY ($1::oid[])
        -- a key's index is its table's constraint: conrelid is indexed, conindid is not
        AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                         WHERE con.conrelid = i.indrelid AND con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
      ORDER BY ic.relname`,
    [relations, schema],
  );

  return {
    sequences,
    tables: [...tables].map(([name, columns]) => ({ name, columns })),
    constraints: cons.rows.map((r) => ({ table: checkedName(r.table, 'table'), name: checkedName(r.name, 'constraint'), definition: r.definition })),
    indexes: idx.rows.map((r) => ({ name: checkedName(r.name, 'index'), definition: unqualifiedIndex(r.definition, r.qualifier) })),
  };
}

/**
 * pg_get_indexdef always qualifies the table ("ON d_x.t USING ..."), whatever the search_path: the
 * schema is cut so that the index is created in the schema being restored.
 */
function unqualifiedIndex(definition: string, qualifier: string): string {
  const m = /^(CREATE (?:UNIQUE )?INDEX \S+ ON (?:ONLY )?)(.*)$/s.exec(definition);
  if (!m || !m[2]!.startsWith(qualifier)) unsupported(`index definition ${definition.slice(0, 120)}`);
  return m[1]! + m[2]!.slice(qualifier.length);
}

function sequenceOptions(s: Omit<SequenceDef, 'name' | 'ownedBy'>, withType = true): string {
  // the values are validated integer strings (format.ts), the type one of three names
  return `${withType ? `AS ${s.type} ` : ''}INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start} CACHE ${s.cache} ${s.cycle ? 'CYCLE' : 'NO CYCLE'}`;
}

function columnDdl(col: ColumnDef): string {
  let ddl = `${ident(col.name)} ${col.type}`;
  if (col.generated) ddl += ` GENERATED ALWAYS AS (${col.generated}) STORED`;
  // checked as one balanced expression when read (format.ts): inside parentheses it cannot end the column
  else if (col.default !== undefined) ddl += ` DEFAULT (${col.default})`;
  if (col.identity) ddl += ` GENERATED ${col.identity.kind === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY (${sequenceOptions(col.identity.sequence, false)})`;
  if (col.notNull) ddl += ' NOT NULL';
  return ddl;
}

/**
 * Runs one statement of archive-provided text with the extended protocol, which refuses a second
 * statement: catalog text cannot smuggle `; DROP ...` past the structure's shape.
 */
export async function runStatement(c: Client, text: string, values: unknown[] = []): Promise<void> {
  await c.query({ text, values, queryMode: 'extended' } as pg.QueryConfig);
}

/** Before the data: sequences and tables (columns, types, defaults, NOT NULL, identity). */
export async function createTables(c: Client, s: Structure): Promise<void> {
  for (const seq of s.sequences) await runStatement(c, `CREATE SEQUENCE ${ident(seq.name)} ${sequenceOptions(seq)}`);
  for (const t of s.tables) await runStatement(c, `CREATE TABLE ${ident(t.name)} (${t.columns.map(columnDdl).join(', ')})`);
}

/** After the data: keys, checks, indexes, foreign keys, sequence ownership and values. */
export async function finishStructure(c: Client, s: Structure): Promise<void> {
  for (const con of s.constraints) {
    await runStatement(c, `ALTER TABLE ${ident(con.table)} ADD CONSTRAINT ${ident(con.name)} ${con.definition}`);
  }
  for (const i of s.indexes) {
    if (!/^CREATE (UNIQUE )?INDEX /.test(i.definition)) throw permanentFailure(FailureType.ArchiveInvalid, `index ${i.name}: not an index definition`);
    await runStatement(c, i.definition);
  }
  for (const seq of s.sequences) {
    if (seq.ownedBy) await runStatement(c, `ALTER SEQUENCE ${ident(seq.name)} OWNED BY ${ident(seq.ownedBy.table)}.${ident(seq.ownedBy.column)}`);
    await runStatement(c, `SELECT setval($1::regclass, $2::bigint, $3)`, [ident(seq.name), seq.lastValue, seq.isCalled]);
  }
  for (const t of s.tables) {
    for (const col of t.columns) {
      if (!col.identity) continue;
      await runStatement(c, `SELECT setval(pg_get_serial_sequence($1, $2), $3::bigint, $4)`, [
        ident(t.name),
        col.name,
        col.identity.sequence.lastValue,
        col.identity.sequence.isCalled,
      ]);
    }
  }
}

export function copyToSql(schema: string, s: Structure['tables'][number]): string {
  return `COPY ${ident(schema)}.${ident(s.name)} (${copyColumns(s).map(ident).join(', ')}) TO STDOUT`;
}

export function copyFromSql(s: Structure['tables'][number]): string {
  return `COPY ${ident(s.name)} (${copyColumns(s).map(ident).join(', ')}) FROM STDIN`;
}
