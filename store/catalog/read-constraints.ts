import type { Queryable } from '../queryable';

/** The constraints of the tables among `relations`, in restore order: keys and uniques, checks, exclusions, then foreign keys. */
export async function readConstraints(db: Queryable, relations: string[]): Promise<{ table: string; name: string; definition: string }[]> {
  const { rows } = await db.query<{ table: string; name: string; definition: string }>(
    `SELECT c.relname AS table, con.conname AS name, pg_get_constraintdef(con.oid) AS definition
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
      WHERE con.conrelid = ANY ($1::oid[])
      ORDER BY CASE con.contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'c' THEN 2 WHEN 'x' THEN 3 ELSE 4 END, c.relname, con.conname`,
    [relations],
  );
  return rows;
}
