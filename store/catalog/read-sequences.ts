import type { Queryable } from '../queryable';

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
}

/** The sequences among `relations`, with their options and owning column. */
export async function readSequences(db: Queryable, relations: string[]): Promise<SequenceRow[]> {
  const { rows } = await db.query<SequenceRow>(
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
  return rows;
}
