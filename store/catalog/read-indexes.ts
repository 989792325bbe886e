import type { Queryable } from '../queryable';

/**
 * The indexes among `relations` that are not a key's own index, with the `schema.` qualifier that
 * pg_get_indexdef prints before the table whatever the search_path.
 */
export async function readIndexes(db: Queryable, relations: string[], schema: string): Promise<{ name: string; definition: string; qualifier: string }[]> {
  const { rows } = await db.query<{ name: string; definition: string; qualifier: string }>(
    `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, quote_ident($2) || '.' AS qualifier
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indexrelid = ANY ($1::oid[])
        -- a key's index is its table's constraint: conrelid is indexed, conindid is not
        AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                         WHERE con.conrelid = i.indrelid AND con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
      ORDER BY ic.relname`,
    [relations, schema],
  );
  return rows;
}
