import type { Dossier } from '../../domain/dossier';
import type { Queryable } from '../queryable';
import { DOSSIER_COLUMNS, toDossier, type DossierRow } from './dossier-row';

/** The registry row of one dossier; undefined when the target has none of that code. */
export async function findDossier(db: Queryable, code: string): Promise<Dossier | undefined> {
  const { rows } = await db.query<DossierRow>(`SELECT ${DOSSIER_COLUMNS} FROM nightshift.dossier WHERE code = $1`, [code]);
  return rows[0] && toDossier(rows[0]);
}
