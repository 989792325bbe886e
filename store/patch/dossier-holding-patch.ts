import type { Queryable } from '../queryable';

/** The first dossier (by code) at or above that patch level: the engine counts it as holding the patch (R-PI-8). */
export async function dossierHoldingPatch(db: Queryable, number: number): Promise<string | undefined> {
  const { rows } = await db.query<{ code: string }>('SELECT code FROM nightshift.dossier WHERE patch_level >= $1 ORDER BY code LIMIT 1', [number]);
  return rows[0]?.code;
}
