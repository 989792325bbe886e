import type { PatchManifest, PatchType } from '../../domain/patch';
import type { Queryable } from '../queryable';

/** The stored packages up to `upTo`, in number order, without their files (what a plan needs). */
export async function storedManifests(db: Queryable, upTo: number): Promise<{ number: number; type: PatchType; checksum: string; manifest: PatchManifest; source_dir: string | null }[]> {
  const { rows } = await db.query<{ number: number; type: PatchType; checksum: string; manifest: PatchManifest; source_dir: string | null }>(
    'SELECT number, type, checksum, manifest, source_dir FROM nightshift.patch_package WHERE number <= $1 ORDER BY number',
    [upTo],
  );
  return rows;
}
