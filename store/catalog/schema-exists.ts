import type { Queryable } from '../queryable';

/** Whether a schema is in the database (a registered dossier's may have been dropped by hand). */
export async function schemaExists(db: Queryable, schemaName: string): Promise<boolean> {
  const { rows } = await db.query<{ there: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1::name) AS there', [schemaName]);
  return rows[0]!.there;
}
