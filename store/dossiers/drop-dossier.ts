import { ident } from '../../db/ident';
import type { Queryable } from '../queryable';

/** Drops a dossier's schema and its registry row (a restore with replace, in its transaction). */
export async function dropDossier(db: Queryable, d: { code: string; schema_name: string }): Promise<void> {
  await db.query(`DROP SCHEMA IF EXISTS ${ident(d.schema_name)} CASCADE`);
  await db.query('DELETE FROM nightshift.dossier WHERE code = $1', [d.code]);
}
