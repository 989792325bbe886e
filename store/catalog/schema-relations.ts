import type { Queryable } from '../queryable';

/**
 * A dossier schema's relations (tables, sequences, indexes...) through nightshift.schema_relations:
 * indexed catalog paths, so that reading one dossier's structure does not scan every dossier's catalog rows.
 */
export async function schemaRelationOids(db: Queryable, schema: string): Promise<string[]> {
  const { rows } = await db.query<{ oid: string }>('SELECT oid::text FROM nightshift.schema_relations($1)', [schema]);
  return rows.map((r) => r.oid);
}
