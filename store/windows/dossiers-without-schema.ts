import type { Queryable } from '../queryable';

/** R-MW-10 post-check: registered dossiers whose schema is gone, by code. */
export async function dossiersWithoutSchema(db: Queryable): Promise<{ code: string; schema_name: string }[]> {
  const r = await db.query<{ code: string; schema_name: string }>(
    `SELECT code, schema_name FROM nightshift.dossier d
          WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = d.schema_name) ORDER BY code`,
  );
  return r.rows;
}
