import type { PatchManifest } from '../../domain/patch';
import type { Queryable } from '../queryable';

/** Stores a verified package under a number not stored yet; false when the number is taken (nothing changed). */
export async function insertPackage(db: Queryable, m: PatchManifest, files: Record<string, string>, dir: string): Promise<boolean> {
  const { rows } = await db.query<{ checksum: string }>(
    `INSERT INTO nightshift.patch_package (number, type, checksum, description, manifest, files, source_dir)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (number) DO UPDATE SET number = EXCLUDED.number WHERE false
         RETURNING checksum`,
    [m.number, m.type, m.checksum, m.description, JSON.stringify(m), JSON.stringify(files), dir],
  );
  return rows.length > 0;
}
