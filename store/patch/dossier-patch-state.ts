import type { Queryable } from '../queryable';

/** A dossier's patch ledger (null before its first patch) and which of `names` it holds as treatments (nightshift.patch_state). */
export async function readDossierPatchState(db: Queryable, schema: string, names: string[]): Promise<{ ledger: [number, string][] | null; treatments: string[] }> {
  const { rows } = await db.query<{ s: { ledger: [number, string][] | null; treatments: string[] } }>('SELECT nightshift.patch_state($1, $2::text[]) AS s', [schema, names]);
  return rows[0]!.s;
}
