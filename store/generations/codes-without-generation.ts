import type { Queryable } from '../queryable';

/** Those of `codes` that have no kept generation (a mistyped code, a dossier never backed up), in the given order: the first 20. */
export async function codesWithoutGeneration(db: Queryable, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT c.code FROM unnest($1::text[]) WITH ORDINALITY AS c(code, n)
      WHERE NOT EXISTS (SELECT 1 FROM nightshift.backup_generation g WHERE g.code = c.code AND g.deleted_at IS NULL)
      ORDER BY c.n LIMIT 20`,
    [codes],
  );
  return rows.map((r) => r.code);
}
