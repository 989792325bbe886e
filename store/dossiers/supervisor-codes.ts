import type { Queryable } from '../queryable';

/** The codes of the dossiers whose role is supervisor (R-PI-3: exactly one is expected). */
export async function supervisorCodes(db: Queryable): Promise<string[]> {
  return (await db.query<{ code: string }>(`SELECT code FROM nightshift.dossier WHERE role = 'supervisor'`)).rows.map((r) => r.code);
}
