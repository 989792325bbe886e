import type { Queryable } from '../queryable';

/**
 * The repair of one patch number (Flyway's `repair`, R-PI-8): its audit row, or the unfinished one of that number (a
 * repair cut off goes on: the ledgers it realigned stay counted, the checksums and folder are this one's).
 */
export async function openRepair(
  db: Queryable,
  r: { number: number; oldChecksums: string[]; newChecksum: string; dir: string; replacesPackage: boolean },
): Promise<{ id: number; dossiers: number; resumed: boolean }> {
  const { rows } = await db.query<{ id: string; dossiers: number; resumed: boolean }>(
    `INSERT INTO nightshift.patch_repair (number, old_checksums, new_checksum, source_dir, replaces_package) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (number) WHERE state = 'running'
       DO UPDATE SET old_checksums = EXCLUDED.old_checksums, new_checksum = EXCLUDED.new_checksum, source_dir = EXCLUDED.source_dir, replaces_package = EXCLUDED.replaces_package
     RETURNING id, dossiers, (xmax <> 0) AS resumed`,
    [r.number, r.oldChecksums, r.newChecksum, r.dir, r.replacesPackage],
  );
  return { id: Number(rows[0]!.id), dossiers: rows[0]!.dossiers, resumed: rows[0]!.resumed };
}
