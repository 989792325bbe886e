import type { Queryable } from '../queryable';
import type { PatchDossierRow } from './dossier-rows';

/** Those of the given dossiers that are registered (any order). */
export async function patchDossiersByCode(db: Queryable, codes: string[]): Promise<PatchDossierRow[]> {
  const { rows } = await db.query<PatchDossierRow>(`SELECT code, role, is_test, is_specific, schema_name, patch_level FROM nightshift.dossier WHERE code = ANY($1::text[])`, [codes]);
  return rows;
}
