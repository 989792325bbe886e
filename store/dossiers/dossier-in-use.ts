import type { Queryable } from '../queryable';

/** R-BK-3: whether a live session holds the dossier open. */
export async function dossierInUse(db: Queryable, code: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM nightshift.dossier_in_use WHERE dossier_code = $1 LIMIT 1', [code]);
  return Boolean(rowCount);
}
