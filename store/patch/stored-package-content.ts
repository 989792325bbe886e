import type { PatchManifest } from '../../domain/patch';
import type { Queryable } from '../queryable';

/** The stored packages of these numbers with their files (`patch repair` says what changed against the folder's). */
export async function storedPackageContent(db: Queryable, numbers: number[]): Promise<Map<number, { manifest: PatchManifest; files: Record<string, string> }>> {
  const { rows } = await db.query<{ number: number; manifest: PatchManifest; files: Record<string, string> }>(
    'SELECT number, manifest, files FROM nightshift.patch_package WHERE number = ANY ($1::int[])',
    [numbers],
  );
  return new Map(rows.map((r) => [r.number, { manifest: r.manifest, files: r.files }]));
}
