import type { Queryable } from '../queryable';

/** The supervisor dossier and its patch level; undefined when the target has none. */
export async function supervisorRow(db: Queryable): Promise<{ code: string; patch_level: number } | undefined> {
  const { rows } = await db.query<{ code: string; patch_level: number }>(`SELECT code, patch_level FROM nightshift.dossier WHERE role = 'supervisor' ORDER BY code LIMIT 1`);
  return rows[0];
}
