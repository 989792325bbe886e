import type { Queryable } from '../queryable';

/** The registered code equal to `code` in any case (itself, or one differing only by case), if any. */
export async function codeInAnyCase(db: Queryable, code: string): Promise<string | undefined> {
  const { rows } = await db.query<{ code: string }>('SELECT code FROM nightshift.dossier WHERE lower(code) = lower($1) ORDER BY code = $1 DESC LIMIT 1', [code]);
  return rows[0]?.code;
}
