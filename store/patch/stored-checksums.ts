import type { Queryable } from '../queryable';

/** The stored packages of these numbers: checksum, the folder they came from, how many dossiers hold each (at or above its level). */
export async function storedChecksums(db: Queryable, numbers: number[]): Promise<{ number: number; checksum: string; source_dir: string | null; holders: number }[]> {
  const { rows } = await db.query<{ number: number; checksum: string; source_dir: string | null; holders: number }>(
    `SELECT p.number, p.checksum, p.source_dir, (SELECT count(*)::int FROM nightshift.dossier d WHERE d.patch_level >= p.number) AS holders
       FROM nightshift.patch_package p WHERE p.number = ANY($1::int[]) ORDER BY p.number`,
    [numbers],
  );
  return rows;
}
