import type { Queryable } from '../queryable';

/** The dossiers whose code starts with `prefix` (any case), and the supervisor: where demo numbering continues. */
export async function codesWithPrefix(db: Queryable, prefix: string): Promise<{ code: string; role: string }[]> {
  const { rows } = await db.query<{ code: string; role: string }>(
    `SELECT code, role FROM nightshift.dossier WHERE left(lower(code), length($1)) = lower($1) OR role = 'supervisor'`,
    [prefix],
  );
  return rows;
}
