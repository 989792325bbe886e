import type { Queryable } from '../queryable';
import type { PatchDossierRow } from './dossier-rows';

/** A dossier with its routing flags, level, patch ledger (null before its first patch) and the treatments it holds among `names`. */
export interface PlanDossierRow extends PatchDossierRow {
  ledger: [number, string][] | null;
  treatments: string[];
  /** false when the dossier's schema is not in the target (renamed, dropped): its state reads empty */
  schema_exists: boolean;
}

/**
 * Those of `codes` that are registered, in code order, each with its state (nightshift.patch_state) and
 * whether its schema exists (patch_state reads a missing schema as "never patched"): one round trip for a page.
 */
export async function planDossierStates(db: Queryable, codes: string[], names: string[]): Promise<PlanDossierRow[]> {
  const { rows } = await db.query<PatchDossierRow & { schema_exists: boolean; s: { ledger: [number, string][] | null; treatments: string[] } }>(
    `SELECT code, role, is_test, is_specific, schema_name, patch_level,
            EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = d.schema_name) AS schema_exists,
            nightshift.patch_state(schema_name, $2::text[]) AS s
       FROM nightshift.dossier d WHERE code = ANY($1::text[]) ORDER BY code`,
    [codes, names],
  );
  return rows.map(({ s, ...r }) => ({ ...r, ledger: s.ledger, treatments: s.treatments }));
}
