import type { Queryable } from '../queryable';

/** How many dossiers have kept generations: the prune's total (R-BK-11). */
export async function pruneDossierCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: string }>('SELECT count(DISTINCT code) AS n FROM nightshift.backup_generation WHERE deleted_at IS NULL');
  return Number(rows[0]!.n);
}
