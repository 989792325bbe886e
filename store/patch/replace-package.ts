import type { PatchManifest } from '../../domain/patch';
import type { Queryable } from '../queryable';

/** Replaces a stored package that applied nowhere by its corrected version (R-PI-8 allows it only then). */
export async function replacePackage(db: Queryable, m: PatchManifest, files: Record<string, string>, dir: string): Promise<void> {
  await db.query(
    `UPDATE nightshift.patch_package SET type = $2, checksum = $3, description = $4, manifest = $5, files = $6, source_dir = $7, stored_at = now()
          WHERE number = $1`,
    [m.number, m.type, m.checksum, m.description, JSON.stringify(m), JSON.stringify(files), dir],
  );
}
