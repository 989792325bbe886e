import type { Queryable } from '../queryable';

/** The first plain original dossier by code, as a backup batch would pick it (R-BK-2); undefined when there is none. */
export async function exampleDossierCode(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT code FROM nightshift.dossier
        WHERE role = 'regular' AND NOT is_template AND NOT is_test AND is_transferable
        ORDER BY code LIMIT 1`,
  );
  return rows[0]?.code;
}
