import type { PatchManifest, PatchType } from '../../domain/patch';
import type { Queryable } from '../queryable';

/** A verified package as the ledger stores it: what revalidation, retry and the engine apply. */
export interface StoredPatch {
  number: number;
  type: PatchType;
  checksum: string;
  manifest: PatchManifest;
  files: Record<string, string>;
}

/** The stored packages up to `upTo`, in number order. */
export async function listStoredPatches(db: Queryable, upTo: number): Promise<StoredPatch[]> {
  const { rows } = await db.query<StoredPatch>('SELECT number, type, checksum, manifest, files FROM nightshift.patch_package WHERE number <= $1 ORDER BY number', [upTo]);
  return rows;
}
