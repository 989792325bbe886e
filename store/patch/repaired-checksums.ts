import type { Queryable } from '../queryable';

/** Per patch number, every checksum its completed repairs replaced or gave (a ledger may hold any of them: restored since). */
export async function repairedChecksums(db: Queryable, numbers: number[]): Promise<Map<number, string[]>> {
  const { rows } = await db.query<{ number: number; checksums: string[] }>(
    `SELECT r.number, array_agg(DISTINCT c ORDER BY c) AS checksums
       FROM nightshift.patch_repair r, unnest(r.old_checksums || r.new_checksum) AS c
      WHERE r.number = ANY($1::int[]) AND r.state = 'completed'
      GROUP BY r.number`,
    [numbers],
  );
  return new Map(rows.map((r) => [r.number, r.checksums]));
}
