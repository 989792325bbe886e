import { ident } from '../../db/ident';
import type { Queryable } from '../queryable';

/** The trigger every dossier table carries (R-BK-1's change counter): re-installed on restore, never archived. */
export const TOUCH_TRIGGER = 'nightshift_touch';

const NSP = '(SELECT nsp FROM rel)';
const RELS = '(SELECT oids FROM rel)::oid[]';

/**
 * $1: the schema's name; NSP: its oid; RELS: its relations' oids (nightshift.schema_relations), both
 * read once in CATALOG_SQL's `rel`. Every path goes through an index keyed by the schema or its relations,
 * so that reading one dossier costs the same with 200 dossiers in the database or 100,000. Each check
 * selects the first offending object's name.
 */
const UNSUPPORTED_CHECKS: [string, string][] = [
  [`SELECT format('%s (kind %s)', c.relname, c.relkind) FROM pg_class c WHERE c.oid = ANY (${RELS}) AND c.relkind NOT IN ('r', 'S', 'i')`, 'relation'],
  [
    // what the schema owns is in pg_depend (refobjid: the schema, indexed), every function included (pg_proc has no index on pronamespace)
    `SELECT p.proname::text FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
      WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ${NSP} AND d.classid = 'pg_proc'::regclass`,
    'function',
  ],
  [
    // table row types and their arrays come with the tables (they hang on the table, not on the schema);
    // anything the schema owns itself is a user type or domain, and so is the row type of any other relation
    `SELECT t.typname::text FROM pg_depend d JOIN pg_type t ON t.oid = d.objid
      WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = ${NSP} AND d.classid = 'pg_type'::regclass
     UNION ALL
     SELECT t.typname::text FROM pg_class c JOIN pg_type t ON t.oid = c.reltype WHERE c.oid = ANY (${RELS}) AND c.relkind NOT IN ('r', 'S', 'i')`,
    'type',
  ],
  [`SELECT tg.tgname::text FROM pg_trigger tg WHERE tg.tgrelid = ANY (${RELS}) AND NOT tg.tgisinternal AND tg.tgname <> '${TOUCH_TRIGGER}'`, 'trigger'],
  [`SELECT r.rulename::text FROM pg_rewrite r WHERE r.ev_class = ANY (${RELS})`, 'rule'],
  [`SELECT pol.polname::text FROM pg_policy pol WHERE pol.polrelid = ANY (${RELS})`, 'row-level security policy'],
  [`SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhrelid = ANY (${RELS})`, 'inheriting table'],
  [
    `SELECT format('%s.%s', c.relname, a.attname) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = ANY (${RELS}) AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        AND a.attcollation <> 0 AND a.attcollation <> t.typcollation`,
    'column with a non-default collation',
  ],
  [
    // a table's constraints live in its schema; a domain's would have been refused with the domain
    `SELECT con.conname::text FROM pg_constraint con
      WHERE con.conrelid = ANY (${RELS}) AND (con.contype NOT IN ('p', 'u', 'c', 'f', 'x')
         OR (con.contype = 'f' AND con.confrelid <> ALL (${RELS})))`,
    'constraint (trigger constraint, or foreign key to another schema)',
  ],
];

/** The first check (in list order) that finds something. */
const UNSUPPORTED_SQL = `SELECT check_no, what FROM (${UNSUPPORTED_CHECKS.map(
  ([sql], i) => `(SELECT ${i} AS check_no, what FROM (${sql}) AS found(what) LIMIT 1)`,
).join(' UNION ALL ')}) AS hits ORDER BY check_no LIMIT 1`;

const SEQUENCES_SQL = `SELECT c.relname AS name, format_type(s.seqtypid, NULL) AS type, s.seqincrement::text AS increment,
            s.seqmin::text AS min, s.seqmax::text AS max, s.seqstart::text AS start, s.seqcache::text AS cache,
            s.seqcycle AS cycle, tc.relname AS owner_table, a.attname AS owner_column, coalesce(d.deptype = 'i', false) AS identity,
            pg_sequence_last_value(c.oid)::text AS last_value
       FROM pg_class c
       -- OFFSET 0 keeps the subquery apart: pg_sequence is read by its index, never scanned whole
       JOIN LATERAL (SELECT * FROM pg_sequence s WHERE s.seqrelid = c.oid OFFSET 0) s ON true
       LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                            AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
       LEFT JOIN pg_class tc ON tc.oid = d.refobjid
       LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE c.oid = ANY (${RELS}) AND c.relkind = 'S'`;

// the default by both keys of its index (a join let the planner look it up by column number alone, in every schema)
const COLUMNS_SQL = `SELECT c.relname AS table, a.attname AS column, a.attnum, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            (SELECT pg_get_expr(ad.adbin, ad.adrelid) FROM pg_attrdef ad WHERE ad.adrelid = a.attrelid AND ad.adnum = a.attnum) AS default,
            a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_class c
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE c.oid = ANY (${RELS}) AND c.relkind = 'r'`;

const EMPTY_TABLE_SQL = `SELECT c.relname AS name FROM pg_class c
      WHERE c.oid = ANY (${RELS}) AND c.relkind = 'r'
        AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
      LIMIT 1`;

// restore order: keys and uniques, checks, exclusions, then foreign keys
const CONSTRAINTS_SQL = `SELECT c.relname AS table, con.conname AS name, pg_get_constraintdef(con.oid) AS definition,
            CASE con.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'c' THEN 2 WHEN 'x' THEN 3 ELSE 4 END AS rank
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
      WHERE con.conrelid = ANY (${RELS})`;

// pg_get_indexdef prints `schema.` before the table whatever the search_path: the qualifier is returned to be cut
const INDEXES_SQL = `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, quote_ident($1) || '.' AS qualifier
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indexrelid = ANY (${RELS})
        -- a key's index is its table's constraint: conrelid is indexed, conindid is not
        AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                         WHERE con.conrelid = i.indrelid AND con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))`;

/**
 * Everything the archive needs from the catalog in one round trip, as a prepared statement (its plan
 * is kept per connection: a batch reads thousands of dossiers). Issue 13's floor: the catalog read was
 * ten round trips plus one per sequence, more than the COPY of a small dossier's data.
 *
 * format_type / pg_get_expr / pg_get_constraintdef / pg_get_indexdef print names unqualified only with
 * search_path set to the schema. The statement sets it itself (set_config, local to the transaction, as
 * SET LOCAL would) in `rel`, whose row every catalog path below waits for: a search_path that differs
 * from the one a cached plan was made under makes PostgreSQL parse and plan the statement again, which
 * cost more than running it (issue 13: 5 ms of PostgreSQL CPU per dossier, the largest single cost).
 */
const CATALOG_SQL = `WITH rel AS MATERIALIZED (
  SELECT set_config('search_path', $2, true) AS search_path,
         (SELECT n.oid FROM pg_namespace n WHERE n.nspname = $1) AS nsp,
         coalesce((SELECT array_agg(r.oid) FROM nightshift.schema_relations($1) r), '{}') AS oids
)
SELECT
  (SELECT json_build_object('check_no', check_no, 'what', what) FROM (${UNSUPPORTED_SQL}) u) AS unsupported,
  (SELECT coalesce(json_agg(s ORDER BY s.name), '[]') FROM (${SEQUENCES_SQL}) s) AS sequences,
  (SELECT coalesce(json_agg(c ORDER BY c.table, c.attnum), '[]') FROM (${COLUMNS_SQL}) c) AS columns,
  (SELECT name FROM (${EMPTY_TABLE_SQL}) e) AS empty_table,
  (SELECT coalesce(json_agg(k ORDER BY k.rank, k.table, k.name), '[]') FROM (${CONSTRAINTS_SQL}) k) AS constraints,
  (SELECT coalesce(json_agg(i ORDER BY i.name), '[]') FROM (${INDEXES_SQL}) i) AS indexes`;

export interface SequenceRow {
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
  /** the sequence of an identity column (else a plain or serial sequence) */
  identity: boolean;
  /** null until the sequence is first called (then read with sequenceValue: a RESTART may have moved it) */
  last_value: string | null;
}

export interface ColumnRow {
  table: string;
  column: string;
  type: string;
  not_null: boolean;
  default: string | null;
  /** pg_attribute.attidentity: 'a' always, 'd' by default, '' none */
  identity: string;
  /** pg_attribute.attgenerated: 's' stored, '' none */
  generated: string;
}

export interface SchemaCatalog {
  /** the first object the archive format cannot restore exactly (then nothing else counts) */
  unsupported?: { kind: string; name: string };
  sequences: SequenceRow[];
  /** table by table, in column order */
  columns: ColumnRow[];
  /** a table without any column (nothing to copy, but it must exist) */
  emptyTable?: string;
  constraints: { table: string; name: string; definition: string }[];
  indexes: { name: string; definition: string; qualifier: string }[];
}

/**
 * The catalog of `schema`'s relations, inside the caller's snapshot (names print unqualified). It leaves
 * search_path set to the schema for the rest of the caller's transaction.
 */
export async function readSchemaCatalog(db: Queryable, schema: string): Promise<SchemaCatalog> {
  const { rows } = await db.query<{
    unsupported: { check_no: number; what: string } | null;
    sequences: SequenceRow[];
    columns: ColumnRow[];
    empty_table: string | null;
    constraints: SchemaCatalog['constraints'];
    indexes: SchemaCatalog['indexes'];
  }>({ name: 'nightshift.read_schema_catalog', text: CATALOG_SQL, values: [schema, ident(schema)] });
  const r = rows[0]!;
  return {
    unsupported: r.unsupported ? { kind: UNSUPPORTED_CHECKS[r.unsupported.check_no]![1], name: r.unsupported.what } : undefined,
    sequences: r.sequences,
    columns: r.columns,
    emptyTable: r.empty_table ?? undefined,
    constraints: r.constraints.map(({ table, name, definition }) => ({ table, name, definition })),
    indexes: r.indexes,
  };
}
