import type { Queryable } from '../queryable';

/** A table among `relations` without any column (nothing to copy, but it must exist), or undefined. */
export async function tableWithoutColumns(db: Queryable, relations: string[]): Promise<string | undefined> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
      WHERE c.oid = ANY ($1::oid[]) AND c.relkind = 'r'
        AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
      LIMIT 1`,
    [relations],
  );
  return rows[0]?.name;
}
