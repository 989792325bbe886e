import type { Queryable } from '../queryable';

/**
 * The codes of `backup restore --codes` that name nothing: no registered dossier and no generation in the catalog, kept
 * or pruned (a typo, not a dossier without a backup). In the order given.
 */
export async function codesUnknownToCatalog(db: Queryable, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT c.code FROM unnest($1::text[]) WITH ORDINALITY AS c (code, n)
      WHERE NOT EXISTS (SELECT 1 FROM nightshift.dossier d WHERE d.code = c.code)
        AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation g WHERE g.code = c.code)
      ORDER BY c.n`,
    [codes],
  );
  return rows.map((r) => r.code);
}
