import type { Queryable } from '../queryable';

/** The trigger every dossier table carries (R-BK-1's change counter): re-installed on restore, never archived. */
export const TOUCH_TRIGGER = 'nightshift_touch';

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

/** The first object of the schema that the archive format cannot restore exactly: its kind and name, or undefined. */
export async function firstUnsupportedObject(db: Queryable, schema: string, relations: string[]): Promise<{ kind: string; name: string } | undefined> {
  const { rows } = await db.query<{ check_no: number; what: string }>(UNSUPPORTED_SQL, [schema, relations]);
  return rows[0] && { kind: UNSUPPORTED_CHECKS[rows[0].check_no]![1], name: rows[0].what };
}
