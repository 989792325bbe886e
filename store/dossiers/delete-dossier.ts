import { ident } from '../../db/ident';
import type { Queryable } from '../queryable';

/**
 * Drops the dossier's schema and registry row in the caller's transaction, unless a session holds it
 * open: the row is locked first, so a session cannot open it between the check and the drop.
 */
export async function deleteDossier(tx: Queryable, code: string, schemaName: string): Promise<'deleted' | 'in-use'> {
  await tx.query('SELECT 1 FROM nightshift.dossier WHERE code = $1 FOR UPDATE', [code]);
  const inUse = await tx.query('SELECT 1 FROM nightshift.dossier_in_use WHERE dossier_code = $1', [code]);
  if (inUse.rowCount) return 'in-use';
  await tx.query(`DROP SCHEMA IF EXISTS ${ident(schemaName)} CASCADE`);
  await tx.query('DELETE FROM nightshift.dossier WHERE code = $1', [code]);
  return 'deleted';
}
