import type { Queryable } from '../queryable';

/**
 * The stored packages of a folder's patch numbers: checksum, the folder they came from, and, for those stored under
 * another checksum than the folder's, how many dossiers hold them (at or above their level; 0 for the others: not
 * counted, a folder of 50 packages over 100,000 dossiers would count 5,000,000 rows for nothing).
 */
export async function storedChecksums(db: Queryable, folder: { number: number; checksum: string }[]): Promise<{ number: number; checksum: string; source_dir: string | null; holders: number }[]> {
  const { rows } = await db.query<{ number: number; checksum: string; source_dir: string | null; holders: number }>(
    `SELECT p.number, p.checksum, p.source_dir,
            CASE WHEN p.checksum <> f.checksum THEN (SELECT count(*)::int FROM nightshift.dossier d WHERE d.patch_level >= p.number) ELSE 0 END AS holders
       FROM unnest($1::int[], $2::text[]) AS f(number, checksum)
       JOIN nightshift.patch_package p ON p.number = f.number
      ORDER BY p.number`,
    [folder.map((f) => f.number), folder.map((f) => f.checksum)],
  );
  return rows;
}
