import type { Queryable } from '../queryable';

/** The stored package of that number, locked until the caller's transaction ends (R-PI-8: compared, maybe replaced). */
export async function lockStoredPackage(db: Queryable, number: number): Promise<{ checksum: string; source_dir: string | null }> {
  const { rows } = await db.query<{ checksum: string; source_dir: string | null }>('SELECT checksum, source_dir FROM nightshift.patch_package WHERE number = $1 FOR UPDATE', [number]);
  return rows[0]!;
}
