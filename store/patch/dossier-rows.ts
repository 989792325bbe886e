import type { Queryable } from '../queryable';

/** What the patch engine needs of a dossier (its routing flags, schema and level). */
export interface PatchDossierRow {
  code: string;
  role: 'supervisor' | 'regular';
  is_test: boolean;
  is_specific: boolean;
  schema_name: string;
  patch_level: number;
}

/** Every dossier of the target, by code. */
export async function listPatchDossiers(db: Queryable): Promise<PatchDossierRow[]> {
  const { rows } = await db.query<PatchDossierRow>(`SELECT code, role, is_test, is_specific, schema_name, patch_level FROM nightshift.dossier ORDER BY code`);
  return rows;
}
