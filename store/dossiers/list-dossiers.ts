import type { Dossier } from '../../domain/dossier';
import type { Queryable } from '../queryable';
import { DOSSIER_COLUMNS, toDossier, type DossierRow } from './dossier-row';

/** Every dossier of the target, the supervisor first, then by code. */
export async function listDossiers(db: Queryable): Promise<Dossier[]> {
  const { rows } = await db.query<DossierRow>(`SELECT ${DOSSIER_COLUMNS} FROM nightshift.dossier ORDER BY role = 'supervisor' DESC, code`);
  return rows.map(toDossier);
}
