import type { Queryable } from '../queryable';

/** How many dossiers this target holds. */
export async function countDossiers(db: Queryable): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM nightshift.dossier')).rows[0]?.n ?? 0);
}
