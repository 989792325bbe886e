import type { Queryable } from '../queryable';

export async function setPatchLevel(db: Queryable, code: string, patchLevel: number): Promise<void> {
  await db.query('UPDATE nightshift.dossier SET patch_level = $2 WHERE code = $1', [code, patchLevel]);
}
