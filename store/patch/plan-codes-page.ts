import type { Queryable } from '../queryable';

/**
 * `patch plan`: up to `limit` codes after `after`, in code order, the supervisor left out (it is planned
 * first, alone, as the run patches it): every dossier, or those of `codes` when the operator named some.
 */
export async function planCodesPage(db: Queryable, codes: string[] | null, after: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT code FROM nightshift.dossier
      WHERE role <> 'supervisor' AND code > $2 AND ($1::text[] IS NULL OR code = ANY($1::text[]))
      ORDER BY code LIMIT $3`,
    [codes, after, limit],
  );
  return rows.map((r) => r.code);
}
