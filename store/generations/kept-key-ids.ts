import type { Queryable } from '../queryable';

/**
 * The keys the kept generations were encrypted with, each with how many use it (a restore or verify needs it), most
 * used first; `null` counts the plain ones.
 */
export async function keptKeyIds(db: Queryable): Promise<{ keyId: string | null; generations: number }[]> {
  const { rows } = await db.query<{ key_id: string | null; n: number }>(
    'SELECT key_id, count(*)::int AS n FROM nightshift.backup_generation WHERE deleted_at IS NULL GROUP BY key_id ORDER BY n DESC, key_id NULLS LAST',
  );
  return rows.map((r) => ({ keyId: r.key_id, generations: r.n }));
}
