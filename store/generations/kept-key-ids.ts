import type { Queryable } from '../queryable';

/** The keys the kept generations were encrypted with, each with how many use it (a restore or verify needs it). */
export async function keptKeyIds(db: Queryable): Promise<{ keyId: string; generations: number }[]> {
  const { rows } = await db.query<{ key_id: string; n: number }>(
    'SELECT key_id, count(*)::int AS n FROM nightshift.backup_generation WHERE deleted_at IS NULL AND key_id IS NOT NULL GROUP BY key_id ORDER BY key_id',
  );
  return rows.map((r) => ({ keyId: r.key_id, generations: r.n }));
}
