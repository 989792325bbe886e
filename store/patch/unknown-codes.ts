import type { Queryable } from '../queryable';

/** Those of `codes` that are not registered (the first 20, in the given order). */
export async function unknownCodes(db: Queryable, codes: string[]): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT c.code FROM unnest($1::text[]) WITH ORDINALITY AS c(code, n)
      WHERE NOT EXISTS (SELECT 1 FROM nightshift.dossier d WHERE d.code = c.code) ORDER BY c.n LIMIT 20`,
    [codes],
  );
  return rows.map((r) => r.code);
}
