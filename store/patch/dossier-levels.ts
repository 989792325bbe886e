import type { Queryable } from '../queryable';

export interface DossierLevelRow {
  code: string;
  role: string;
  is_test: boolean;
  is_specific: boolean;
  patch_level: number;
}

/** Every dossier's patch level, the supervisor first, then by code (R-PI-9: `patch status`). */
export async function listDossierLevels(db: Queryable): Promise<DossierLevelRow[]> {
  const { rows } = await db.query<DossierLevelRow>(`SELECT code, role, is_test, is_specific, patch_level FROM nightshift.dossier ORDER BY role = 'supervisor' DESC, code`);
  return rows;
}
