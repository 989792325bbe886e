import type { Queryable } from '../queryable';

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

/** The columns of the tables among `relations`, table by table in column order (search_path set by the caller). */
export async function readColumns(db: Queryable, relations: string[]): Promise<ColumnRow[]> {
  const { rows } = await db.query<ColumnRow>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            pg_get_expr(ad.adbin, ad.adrelid) AS default, a.attidentity AS identity, a.attgenerated AS generated
       FROM pg_class c
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
      WHERE c.oid = ANY ($1::oid[]) AND c.relkind = 'r' ORDER BY c.relname, a.attnum`,
    [relations],
  );
  return rows;
}
