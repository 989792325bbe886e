import type { Queryable } from '../queryable';

/** What a restore needs to know of a code before it chooses a generation: the registered code in any case, its schema there. */
export interface RestoreScopeFact {
  /** the registered dossier equal to the code in any case (itself, or a case twin); undefined: not registered */
  registered?: string;
  /** its schema (`schemaNames`' entry) is in the database */
  there: boolean;
}

/**
 * codeInAnyCase and schemaExists for every code of a restore's scope in one statement (the dry run's, at 100,000
 * dossiers). `schemaNames[i]` is the schema of `codes[i]`.
 */
export async function restoreScopeFacts(db: Queryable, codes: string[], schemaNames: string[]): Promise<Map<string, RestoreScopeFact>> {
  const { rows } = await db.query<{ code: string; registered: string | null; there: boolean }>(
    `SELECT c.code, d.code AS registered, EXISTS (SELECT 1 FROM pg_catalog.pg_namespace s WHERE s.nspname = c.schema_name::name) AS there
       FROM unnest($1::text[], $2::text[]) AS c (code, schema_name)
       LEFT JOIN nightshift.dossier d ON lower(d.code) = lower(c.code)`,
    [codes, schemaNames],
  );
  return new Map(rows.map((r) => [r.code, { registered: r.registered ?? undefined, there: r.there }]));
}
